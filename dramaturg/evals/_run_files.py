"""Reading a run folder for reports and comparisons, and formatting its numbers as text.

Private to :mod:`dramaturg.evals.report`, :mod:`dramaturg.evals.compare` and
:mod:`dramaturg.evals._svg`.
"""

from __future__ import annotations

import html
import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Any

from dramaturg._files import InputFileError, load_json, parse_json
from dramaturg.errors import ConfigError
from dramaturg.models._redact import redact_spec

# Logged under report.py's name, the one users filter these warnings by.
log = logging.getLogger("dramaturg.evals.report")

_e = html.escape  # quote=True by default: safe in text and in attribute values
_DASH = "\u2013"  # shown for a missing value


# --------------------------------------------------------------------------- reading a run


@dataclass(kw_only=True)
class _Run:
    path: Path
    meta: dict[str, Any]  # run.json over summary.json's top-level fields
    summary: dict[str, Any]
    episodes: list[dict[str, Any]]
    skipped: int  # unreadable lines in episodes.jsonl (a killed run leaves a half-written last one)


def _load_run(run_dir: str | PathLike[str]) -> _Run:
    path = Path(run_dir)
    how = f"Run `dramaturg eval run SUITE --agent A --model M --out {path}` first, or pass the folder such a run wrote."
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory, so not an evaluation run. {how}")
    if not (path / "summary.json").is_file():
        raise ConfigError(
            f"{path} is not an evaluation run (or the run did not finish): it has no summary.json. {how}"
        )
    summary = _read_json(path / "summary.json")
    meta = {k: v for k, v in summary.items() if not isinstance(v, dict)}
    if (path / "run.json").is_file():
        meta |= _read_json(path / "run.json")
    for key in ("model", "command"):  # runs made before specs were redacted on disk
        if isinstance(meta.get(key), str):
            meta[key] = redact_spec(meta[key])
    episodes, skipped = _read_jsonl(path / "episodes.jsonl")
    if skipped:
        log.warning("%s: skipped %d unreadable line(s) of episodes.jsonl", path, skipped)
    return _Run(path=path, meta=meta, summary=summary, episodes=episodes, skipped=skipped)


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = load_json(file)  # capped, UTF-8, nesting checked: a run folder may come from anyone
    except InputFileError as exc:
        raise ConfigError(f"{exc}. Was the run interrupted? Run it again.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file} should hold a JSON object, not {type(data).__name__}.")
    return data


def _read_jsonl(file: Path) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a JSONL file and the number of lines that were not one."""
    if not file.is_file():
        return [], 0
    records, bad = [], 0
    with file.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                record = parse_json(line)
            except ValueError:  # not JSON, or nested too deeply (InputFileError)
                bad += 1
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                bad += 1
    return records, bad


def _num(x: Any) -> float:
    """A number from a field that may be missing, null or mistyped."""
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else 0.0


def _case(ep: dict[str, Any]) -> str:
    return str(ep.get("case_id", "?"))


def _attempt(ep: dict[str, Any]) -> int:
    return int(_num(ep.get("attempt")))


# --------------------------------------------------------------------------- formatting


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _si(x: float) -> str:
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def _usd(x: float) -> str:
    return f"${x:,.2f}" if x >= 1 else f"${x:.2g}" if x < 0.01 else f"${x:.3f}"


def _date(value: Any) -> str | None:
    """An ISO timestamp as ``2026-11-23 10:00 UTC``; anything else as it is."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.utcoffset() == timedelta(0):
        return when.strftime("%Y-%m-%d %H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M %z").strip()


def _cut(text: Any, limit: int) -> str:
    """``text`` (JSON for anything but a string) cut to ``limit`` characters, saying how many were cut."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = json.dumps(text, ensure_ascii=False)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters]"


# --------------------------------------------------------------------------- the page's style and script
