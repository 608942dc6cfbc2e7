"""Drama sessions on disk: create, play a few turns, stop, resume tomorrow.

A session is a folder under ``<home>/drama/<id>/``::

    blueprint.yaml       the play (editable; read when the session opens)
    session.json         who plays whom, the model, the mode, the token's hash
    checkpoints.sqlite   the drama graph's checkpoints (every super-step)
    transcript.jsonl     every turn, appended as it happens (for people and tools)
    metrics.json         written when the play ends

The graph state in the checkpoint is the truth; the transcript file is a
readable copy. Every call to :meth:`DramaSession.advance` opens the
checkpoint, runs until the player's turn or the end, and closes it, so a
process killed at any moment loses at most the turn in flight.

Example:
    >>> s = DramaSession.create(Blueprint.load("play.yaml"), player="hamlet", model="local")  # doctest: +SKIP
    >>> async for entry in s.advance():            # agents act until Hamlet's turn        # doctest: +SKIP
    ...     print(entry.get("public"))
    >>> async for entry in s.advance('say "Who is there?"'): ...                             # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dramaturg._paths import home_dir
from dramaturg.errors import ConfigError
from dramaturg.models._redact import redact_spec

__all__ = ["DramaSession", "SessionMeta", "sessions_dir"]

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
#: The registry key whose adapter turns a player's words into stage actions
#: (``dramaturg train adapters add theatre/ ADAPTER.gguf`` registers one).
DRAMA_TOOL_KEY = "theatre/drama"


def sessions_dir(home: Path | None = None) -> Path:
    path = (home or home_dir()) / "drama"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(kw_only=True)
class SessionMeta:
    id: str
    title: str
    player: str | None
    model: str | None
    mode: Literal["per_actor", "ensemble"] = "per_actor"
    reflect_every: int = 4
    max_scene_steps: int = 12
    max_turns: int | None = None
    created: float = 0.0
    token_sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DramaSession:
    """One play in progress. Open it with :meth:`create` or :meth:`open`."""

    def __init__(self, folder: Path, meta: SessionMeta) -> None:
        self.folder, self.meta = folder, meta
        self._model: Any = None
        self._tool_model: Any = None
        self._given = False  # a ready model was handed in (use_model): it plays every part
        self._spec: str | None = None  # the model spec with its secrets, when this process made the session

    # ------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, blueprint: Any, *, player: str | None = None, model: str | None = None,
               mode: Literal["per_actor", "ensemble"] = "per_actor", reflect_every: int = 4,
               max_scene_steps: int = 12, max_turns: int | None = None, home: Path | None = None,
               session_id: str | None = None) -> tuple[DramaSession, str]:
        """Make a new session folder. Returns the session and its access token (shown once)."""
        if player is not None and player not in blueprint.cast:
            raise ConfigError(f"no character {player!r} in the cast; characters: {sorted(blueprint.cast)}")
        sid = session_id or time.strftime("%Y%m%d-") + secrets.token_hex(4)
        if not _ID.match(sid):
            raise ConfigError(f"bad session id {sid!r}: lowercase letters, digits and dashes")
        folder = sessions_dir(home) / sid
        if folder.exists():
            raise ConfigError(f"session {sid!r} exists already ({folder})")
        folder.mkdir(parents=True)
        token = secrets.token_urlsafe(24)
        # The spec is kept whole in memory only; the file gets it with its secrets masked.
        meta = SessionMeta(id=sid, title=blueprint.title, player=player, model=redact_spec(model), mode=mode,
                           reflect_every=reflect_every, max_scene_steps=max_scene_steps, max_turns=max_turns,
                           created=time.time(), token_sha256=_hash(token))
        blueprint.save(folder / "blueprint.yaml")
        _write_json(folder / "session.json", meta.to_json())
        session = cls(folder, meta)
        session._spec = model
        return session, token

    @classmethod
    def open(cls, session_id: str, *, home: Path | None = None) -> DramaSession:
        if not _ID.match(session_id or ""):
            raise ConfigError(f"no session {session_id!r}")
        folder = sessions_dir(home) / session_id
        meta_file = folder / "session.json"
        if not meta_file.is_file():
            raise ConfigError(f"no session {session_id!r} in {sessions_dir(home)}")
        try:
            meta = SessionMeta(**json.loads(meta_file.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"session file {meta_file} is damaged: {exc}") from exc
        return cls(folder, meta)

    @staticmethod
    def list(home: Path | None = None) -> list[SessionMeta]:
        out = []
        for f in sorted(sessions_dir(home).glob("*/session.json")):
            try:
                out.append(SessionMeta(**json.loads(f.read_text(encoding="utf-8"))))
            except (ValueError, TypeError):
                continue
        return out

    def check_token(self, token: str | None) -> bool:
        """Constant-time check of a session token."""
        return bool(token) and hmac.compare_digest(_hash(token or ""), self.meta.token_sha256)

    # ------------------------------------------------------------ playing
    @property
    def blueprint(self) -> Any:
        from dramaturg.drama.blueprint import Blueprint

        return Blueprint.load(self.folder / "blueprint.yaml")

    def use_model(self, model: Any) -> None:
        """Play with this ready :class:`~dramaturg.models.ChatModel` instead of loading ``meta.model``."""
        self._model = model
        self._given = True

    def _chat(self) -> Any:
        if self._model is None:
            from dramaturg.models import load_model

            self._model = load_model(self._spec or self.meta.model, trace=self.folder / "model-trace.jsonl")
        return self._model

    def _tool_chat(self) -> Any:
        """The tool agent's model: the adapter registered for the stage (``theatre/``), if any."""
        chat = self._chat()
        if self._given:
            return chat
        if self._tool_model is None:
            from dramaturg.training.registry import AdapterRegistry

            registered = AdapterRegistry().model(DRAMA_TOOL_KEY, trace=self.folder / "model-trace.jsonl")
            self._tool_model = registered or chat
        return self._tool_model

    def _graph(self, saver: Any, *, auto: bool = False, max_turns: int | None = None) -> Any:
        from dramaturg.agents import ToolAgent
        from dramaturg.drama.actor import Actor
        from dramaturg.drama.director import Director
        from dramaturg.drama.graph import drama

        chat = self._chat()
        return drama(self.blueprint, actor=Actor(model=chat), director=Director(model=chat),
                     tool_agent=ToolAgent(model=self._tool_chat()), player=None if auto else self.meta.player,
                     mode=self.meta.mode, reflect_every=self.meta.reflect_every,
                     max_scene_steps=self.meta.max_scene_steps,
                     max_turns=max_turns if max_turns is not None else self.meta.max_turns, checkpointer=saver)

    async def state(self) -> dict[str, Any]:
        """The session's current state: ``values``, ``waiting`` (the player's prompt or None), ``ended``."""
        from dramaturg.graphs import open_checkpointer

        async with open_checkpointer(self.folder / "checkpoints.sqlite") as saver:
            snap = await self._graph(saver).aget_state(self._config())
        waiting = None
        for task in snap.tasks:
            for intr in task.interrupts:
                waiting = intr.value
        values = dict(snap.values or {})
        return {"values": values, "waiting": waiting, "ended": bool(values.get("ended")),
                "started": bool(values)}

    async def advance(self, player_input: Any = None, *, auto: bool = False,
                      max_turns: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Run until the player's turn or the end, yielding each new transcript entry.

        ``player_input`` answers a pending player turn (ignored when none is
        pending). Input the graph refuses comes back as a ``{"kind": "notice"}``
        entry and changes nothing.
        """
        from langgraph.types import Command

        from dramaturg.graphs import open_checkpointer

        config = self._config()
        async with open_checkpointer(self.folder / "checkpoints.sqlite") as saver:
            graph = self._graph(saver, auto=auto, max_turns=max_turns)
            snap = await graph.aget_state(config)
            pending = any(t.interrupts for t in snap.tasks)
            if snap.values and not snap.next:
                return  # the play is over
            inp: Any = Command(resume=player_input) if pending else (None if snap.values else {})
            if pending and player_input is None:
                return  # waiting for the player
            self._mend_log(snap.values.get("transcript", []))
            with (self.folder / "transcript.jsonl").open("a", encoding="utf-8") as log:
                async for update in graph.astream(inp, config, stream_mode="updates"):
                    for node, change in update.items():
                        if node == "__interrupt__":
                            yield {"kind": "waiting", "prompt": change[0].value if change else None}
                            continue
                        if not isinstance(change, dict):
                            continue
                        if change.get("notice"):
                            yield {"kind": "notice", "text": change["notice"]}
                        for entry in change.get("transcript", ()):
                            log.write(json.dumps(entry, ensure_ascii=False) + "\n")
                            log.flush()
                            yield entry
        final = await self.state()
        if final["ended"]:
            self.write_metrics(final["values"])

    def _mend_log(self, transcript: list[dict[str, Any]]) -> None:
        """Make transcript.jsonl a copy of the checkpoint's transcript again.

        An entry is logged as soon as it is streamed, which can be just before
        its checkpoint is written: a process killed in between leaves a line
        the graph will play again (a duplicate), or a half-written line.
        """
        path = self.folder / "transcript.jsonl"
        try:
            logged = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        except (OSError, ValueError):
            logged = None
        if logged != transcript:
            tmp = path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in transcript), encoding="utf-8")
            tmp.replace(path)

    def write_metrics(self, values: dict[str, Any]) -> dict[str, Any]:
        from dramaturg.drama.metrics import drama_metrics

        calls = None
        usage = getattr(self._model, "usage", None)
        if usage is not None:
            calls = usage.total.calls
        metrics = drama_metrics(values.get("transcript", []), self.blueprint, model_calls=calls)
        _write_json(self.folder / "metrics.json", metrics.model_dump())
        return metrics.model_dump()

    def _config(self) -> dict[str, Any]:
        return {"configurable": {"thread_id": self.meta.id}, "recursion_limit": 10_000}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
