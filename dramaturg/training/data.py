"""The training example format: one chat example per JSONL line, read, checked and written.

Each line of a data file is one chat example::

    {"messages": [...the tool agent's prompt..., {"role": "assistant", "content": "{\\"command\\": \\"go east\\"}"}],
     "game": "textworld/tw-simple/3", "world": "textworld/tw-simple", "source": "gold", "step": 4}

The prompt messages are exactly what a :class:`~dramaturg.agents.ToolAgent`
sends its model at that step (see :mod:`dramaturg.training._games`), so an
adapter trained on them sees at inference what it saw in training. The games
of a data file are split into train, valid and test in ``<data>.splits.json``
(see :mod:`dramaturg.training._splits`); :func:`~dramaturg.training.build.build_sft_data`
writes both.

Example:
    >>> train = load_sft_data("data/tw.jsonl", split="train")  # doctest: +SKIP
    >>> train[0].command                                        # doctest: +SKIP
    'go east'
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dramaturg._files import InputFileError, iter_lines, parse_json
from dramaturg.errors import ConfigError
from dramaturg.evals.cases import DatasetError
from dramaturg.models import Message
from dramaturg.models._prompt import render_prompt
from dramaturg.training._splits import SPLITS, load_splits, splits_path

__all__ = ["MAX_DATA_BYTES", "SFTExample", "load_sft_data", "write_sft_data", "write_text"]

#: A data file's cap: data sets are far bigger than the files people write (each line is capped at 4 MiB).
MAX_DATA_BYTES = 512 * 2**20

_ROLES = ("system", "user", "assistant")
_FIELDS = {"messages", "game", "world", "source", "step"}


@dataclass(frozen=True, kw_only=True)
class SFTExample:
    """One training example: the prompt messages, then the assistant's answer.

    Attributes:
        messages: the prompt, then ``{"role": "assistant", "content": '{"command": ...}'}``.
        game: the game it comes from (what the train/valid/test split is made of).
        world: the world id.
        source: ``gold`` (a gold plan), ``search`` (a gold plan after a search, see
            ``build_sft_data(search=...)``) or ``trace`` (a successful run).
        step: the step of the game.
    """

    messages: list[Message]
    game: str
    world: str = ""
    source: str = "gold"
    step: int = 0

    @property
    def prompt(self) -> list[Message]:
        """The messages the model is given."""
        return self.messages[:-1]

    @property
    def answer(self) -> str:
        """The assistant's answer, ``{"command": "..."}``."""
        return self.messages[-1]["content"]

    @property
    def command(self) -> str:
        """The command the answer names (the loader checked that it is a string)."""
        command: str = json.loads(self.answer)["command"]
        return command

    def key(self) -> tuple[str, str]:
        """What makes two examples duplicates: the rendered prompt and the answer."""
        return render_prompt(self.prompt)[0], self.answer

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "game": self.game,
            "world": self.world,
            "source": self.source,
            "step": self.step,
        }


# ------------------------------------------------------------------ reading
def _example(raw: Any, *, path: Path, line: int) -> SFTExample:
    def bad(problem: str, where: str | None = None) -> DatasetError:
        return DatasetError(problem, path=path, line=line, field=where)

    if not isinstance(raw, dict):
        raise bad(f"a line must be a JSON object, not {type(raw).__name__}")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise bad(f"unknown field (allowed: {', '.join(sorted(_FIELDS))})", unknown[0])
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("missing, or not a non-empty list of chat messages", "messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise bad("a message must be an object with role and content", f"messages[{i}]")
        if msg.get("role") not in _ROLES:
            raise bad(
                f"role must be one of {', '.join(_ROLES)}, got {msg.get('role')!r}",
                f"messages[{i}].role",
            )
        if not isinstance(msg.get("content"), str):
            raise bad("content must be a string", f"messages[{i}].content")
        extra = sorted(set(msg) - {"role", "content", "name"})
        if extra:
            raise bad("a message holds only role, content and name", f"messages[{i}].{extra[0]}")
    last = len(messages) - 1
    if messages[last]["role"] != "assistant":
        raise bad("the last message must be the assistant's answer", f"messages[{last}].role")
    if not any(m["role"] == "user" for m in messages[:last]):
        raise bad("needs at least one user message before the answer", "messages")
    content = messages[last]["content"]
    try:
        answer = json.loads(content)
    except json.JSONDecodeError:
        answer = None
    command = (
        answer.get("command") if isinstance(answer, dict) and set(answer) == {"command"} else None
    )
    if not isinstance(command, str) or not command.strip():
        raise bad(
            f'the answer must be the JSON object {{"command": "<command>"}}, got {content[:80]!r}',
            f"messages[{last}].content",
        )
    if content != json.dumps({"command": command}):
        raise bad(
            f"write the answer exactly as the tool agent's history shows it: "
            f"{json.dumps({'command': command})}",
            f"messages[{last}].content",
        )
    game = raw.get("game")
    if not isinstance(game, str) or not game.strip():
        raise bad("missing: the game the example comes from (the split is made by game)", "game")
    for name in ("world", "source"):
        if name in raw and not isinstance(raw[name], str):
            raise bad("must be a string", name)
    if "step" in raw and (not isinstance(raw["step"], int) or isinstance(raw["step"], bool)):
        raise bad("must be an integer", "step")
    return SFTExample(
        messages=messages,
        game=game,
        world=raw.get("world", ""),
        source=raw.get("source", "gold"),
        step=raw.get("step", 0),
    )


def load_sft_data(path: str | os.PathLike[str], *, split: str | None = None) -> list[SFTExample]:
    """Read a data file; with ``split``, only that split's games (from ``<data>.splits.json``).

    Raises:
        DatasetError: for a broken line, naming the line and the field.
        ConfigError: for a missing or inconsistent splits file.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training data not found: {path}")
    examples = []
    # Streamed with a cap per line (and a larger one for the file: data sets are big); a binary
    # or deeply nested line is a DatasetError naming the line, not a traceback.
    try:
        for n, text in iter_lines(path, max_bytes=MAX_DATA_BYTES):
            if not text.strip():
                continue
            try:
                raw = parse_json(text, label=f"{path} line {n}")
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"not JSON ({exc.msg} at column {exc.colno})", path=path, line=n
                ) from None
            example = _example(raw, path=path, line=n)
            examples.append((n, example))
    except InputFileError as exc:
        raise DatasetError(exc.problem, path=exc.label) from None
    if split is None:
        return [e for _, e in examples]
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    splits = load_splits(path)
    listed = {g for games in splits.values() for g in games}
    for n, e in examples:
        if e.game not in listed:
            raise DatasetError(
                f"game {e.game!r} is in no split of {splits_path(path).name}",
                path=path,
                line=n,
                field="game",
            )
    wanted = set(splits[split])
    return [e for _, e in examples if e.game in wanted]


# ------------------------------------------------------------------ writing
def write_sft_data(path: Path, examples: Iterable[SFTExample]) -> None:
    """Write ``examples`` to ``path``, one JSON line each, replacing the file at once."""
    write_text(path, "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in examples))


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
