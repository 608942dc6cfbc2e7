"""Generate TextWorld games offline with ``tw-make`` and cache them by (challenge, options, seed)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dramaturg._paths import cache_dir
from dramaturg.errors import ConfigError, MissingExtraError
from dramaturg.worlds.base import WorldError

__all__ = ["CHALLENGE_DEFAULTS", "GenerationError", "generate_game"]

#: Small, quick games by default; any ``tw-make <challenge> --help`` option can be passed.
CHALLENGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "tw-simple": {"rewards": "dense", "goal": "detailed"},
    "tw-cooking": {"recipe": 1, "take": 1, "go": 1},
    "tw-coin_collector": {"level": 1},
    "tw-treasure_hunter": {"level": 1},
    "custom": {"world-size": 2, "nb-objects": 4, "quest-length": 2},
}


class GenerationError(WorldError):
    """``tw-make`` failed; the message carries its output."""


def _tw_make() -> list[str]:
    try:
        import textworld  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("textworld", "textworld", "TextWorld games") from exc
    script = Path(sys.executable).parent / "tw-make"
    if not script.is_file():
        found = shutil.which("tw-make")
        if not found:
            raise MissingExtraError(
                "textworld", "textworld", "tw-make (TextWorld's game generator)"
            )
        script = Path(found)
    return [sys.executable, str(script)]


def _args(options: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, value in sorted(options.items()):
        flag = "--" + key.replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is False or value is None:
            continue
        else:
            out += [flag, str(value)]
    return out


def generate_game(
    challenge: str, options: dict[str, Any] | None = None, seed: int = 0, *, timeout: float = 300
) -> Path:
    """The path of a ``.z8`` game for (challenge, options, seed), generated on first use.

    Games live under ``cache_dir("games", "textworld")``; a second call with the
    same arguments returns the cached file at once.
    """
    if challenge not in CHALLENGE_DEFAULTS:
        raise ConfigError(
            f"unknown TextWorld challenge {challenge!r}; choose one of {sorted(CHALLENGE_DEFAULTS)}"
        )
    opts = {**CHALLENGE_DEFAULTS[challenge], **(options or {})}
    import textworld

    key = json.dumps(
        {"c": challenge, "o": opts, "s": seed, "v": textworld.__version__}, sort_keys=True
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    folder = cache_dir("games", "textworld") / f"{challenge}-s{seed}-{digest}"
    game = folder / "game.z8"
    if game.is_file():
        return game
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    cmd = [
        *_tw_make(),
        challenge,
        *_args(opts),
        "--seed",
        str(seed),
        "--output",
        str(tmp / "game.z8"),
        "--silent",
        "-f",
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp
        )
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GenerationError(f"tw-make took more than {timeout:g}s: {' '.join(cmd)}") from exc
    if proc.returncode != 0 or not (tmp / "game.z8").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        raise GenerationError(
            f"tw-make failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    (tmp / "meta.json").write_text(key)
    try:
        tmp.rename(folder)  # atomic: a concurrent generator may have won the race
    except OSError:
        for _ in range(50):
            if game.is_file():
                break
            time.sleep(0.1)
        shutil.rmtree(tmp, ignore_errors=True)
    return game
