"""Drama sessions on disk: create, play a few turns, stop, resume tomorrow.

A session is a folder under ``<home>/drama/<id>/``::

    blueprint.yaml       the play (editable; read when the session opens)
    session.json         who plays whom, the model, the mode, the token's hash
    checkpoints.sqlite   the drama graph's checkpoints (every super-step)
    transcript.jsonl     every turn shown so far, appended once it is checkpointed and shown
    metrics.json         written when the play ends

The graph state in the checkpoint is the truth; the transcript file is a
readable copy. Every call to :meth:`DramaSession.advance` opens the
checkpoint, runs until the player's turn or the end, and closes it. A
process killed at any moment loses at most the turn in flight, and the next
call shows each turn that was not shown yet, once (see ``advance``).

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
    seed: int = 0
    created: float = 0.0
    token_sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class DramaSession:
    """One play in progress. Open it with :meth:`create` or :meth:`open`."""

    def __init__(self, folder: Path, meta: SessionMeta) -> None:
        self.folder, self.meta = folder, meta
        self._model: Any = None
        self._tool: Any = None  # the player's tool agent, made on first use
        self._given = False  # a ready model was handed in (use_model): it plays every part
        self._spec: str | None = (
            None  # the model spec with its secrets, when this process made the session
        )

    # ------------------------------------------------------------ lifecycle
    @classmethod
    def create(
        cls,
        blueprint: Any,
        *,
        player: str | None = None,
        model: str | None = None,
        mode: Literal["per_actor", "ensemble"] = "per_actor",
        reflect_every: int = 4,
        max_scene_steps: int = 12,
        max_turns: int | None = None,
        home: Path | None = None,
        session_id: str | None = None,
        seed: int = 0,
    ) -> tuple[DramaSession, str]:
        """Make a new session folder. Returns the session and its access token (shown once)."""
        if player is not None and player not in blueprint.cast:
            raise ConfigError(
                f"no character {player!r} in the cast; characters: {sorted(blueprint.cast)}"
            )
        sid = session_id or time.strftime("%Y%m%d-") + secrets.token_hex(4)
        if not _ID.match(sid):
            raise ConfigError(f"bad session id {sid!r}: lowercase letters, digits and dashes")
        folder = sessions_dir(home) / sid
        if folder.exists():
            raise ConfigError(f"session {sid!r} exists already ({folder})")
        folder.mkdir(parents=True)
        token = secrets.token_urlsafe(24)
        # The spec is kept whole in memory only; the file gets it with its secrets masked.
        meta = SessionMeta(
            id=sid,
            title=blueprint.title,
            player=player,
            model=redact_spec(model),
            mode=mode,
            reflect_every=reflect_every,
            max_scene_steps=max_scene_steps,
            max_turns=max_turns,
            seed=seed,
            created=time.time(),
            token_sha256=_hash(token),
        )
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

            self._model = load_model(
                self._spec or self.meta.model, trace=self.folder / "model-trace.jsonl"
            )
        return self._model

    def _tool_agent(self) -> Any:
        """The player's tool agent: on the embedded model, on the adapter registered for the
        stage (``theatre/``), if any; else on the play's model; prompted with the settings its
        adapter was trained with."""
        from dramaturg.agents.tool_agent import tool_agent_for

        chat = self._chat()
        if self._given:  # a model handed in plays every part
            return tool_agent_for(chat)
        if self._tool is None:
            self._tool = tool_agent_for(
                "auto",
                main=chat,
                world=DRAMA_TOOL_KEY,
                trace=self.folder / "model-trace.jsonl",
            )
        return self._tool

    def _graph(self, saver: Any, *, auto: bool = False, max_turns: int | None = None) -> Any:
        from dramaturg.drama.graph import actor_for, director_for, drama

        chat = self._chat()
        return drama(
            self.blueprint,
            actor=actor_for(chat, seed=self.meta.seed),
            director=director_for(chat),
            tool_agent=self._tool_agent(),
            player=None if auto else self.meta.player,
            mode=self.meta.mode,
            reflect_every=self.meta.reflect_every,
            max_scene_steps=self.meta.max_scene_steps,
            max_turns=max_turns if max_turns is not None else self.meta.max_turns,
            checkpointer=saver,
        )

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
        return {
            "values": values,
            "waiting": waiting,
            "ended": bool(values.get("ended")),
            "started": bool(values),
        }

    async def advance(
        self,
        player_input: Any = None,
        *,
        auto: bool = False,
        max_turns: int | None = None,
        replay: bool = True,
    ) -> AsyncIterator[dict[str, Any]]:
        """Run until the player's turn or the end, yielding each new transcript entry.

        ``player_input`` answers a pending player turn (ignored when none is
        pending). Input the graph refuses comes back as a ``{"kind": "notice"}``
        entry and changes nothing.

        Each turn is shown once, even when a process is killed (kill -9) at
        any instant and the play goes on in another:

        * The graph runs with ``durability="sync"``: a super-step's checkpoint
          is committed before the next step starts. Entries are read from the
          ``values`` stream, which LangGraph yields only after that wait, so an
          entry is never shown before it is on disk (the ``updates`` stream
          comes before the checkpoint: a turn shown from it could be lost and
          played again differently).
        * transcript.jsonl is the "shown up to" cursor: an entry is appended
          to it when the caller comes back for the next one (or stops
          iterating), that is, once it has been shown. The log is thus always
          a prefix of the checkpoint's transcript.
        * On opening, entries that are in the checkpoint but not in the log
          (a kill came after their checkpoint and before they were shown) are
          yielded first. ``replay=False`` only logs them: for a caller that
          has just shown the whole checkpoint (the web page's snapshot).
        * A checkpoint whose tasks are still pending (a node finished and its
          writes were saved, but not the next checkpoint) is resumed, never
          taken for the end: the play is over only when no task is left.

        What no design can close is the gap between two writes to two places:
        a kill after the terminal got a line and before the log did (a few
        microseconds) shows that one line again after the restart. A repeat
        was chosen over a silent loss.
        """
        from langgraph.types import Command

        from dramaturg.graphs import open_checkpointer

        config = self._config()
        ran = False
        async with open_checkpointer(self.folder / "checkpoints.sqlite") as saver:
            graph = self._graph(saver, auto=auto, max_turns=max_turns)
            snap = await graph.aget_state(config)
            shown = self._mend_log(snap.values.get("transcript", []))
            with (self.folder / "transcript.jsonl").open("a", encoding="utf-8") as log:

                def logged(entry: dict[str, Any]) -> None:
                    nonlocal shown
                    log.write(json.dumps(entry, ensure_ascii=False) + "\n")
                    log.flush()
                    shown += 1

                for entry in snap.values.get("transcript", [])[shown:]:
                    if replay:
                        try:
                            yield entry
                        finally:
                            logged(entry)
                    else:
                        logged(entry)
                pending = any(t.interrupts for t in snap.tasks)
                if (snap.values and not snap.tasks) or (pending and player_input is None):
                    pass  # the play is over, or it waits for the player
                else:
                    ran = True
                    if pending:
                        inp: Any = Command(resume=player_input)
                    else:  # a new play, or one cut short: go on from the checkpoint
                        inp = None if snap.values or snap.tasks else {}
                    async for mode, chunk in graph.astream(
                        inp, config, stream_mode=["updates", "values"], durability="sync"
                    ):
                        if mode == "values":
                            for entry in (chunk.get("transcript") or [])[shown:]:
                                try:
                                    yield entry
                                finally:
                                    logged(entry)
                            continue
                        for node, change in chunk.items():
                            if node == "__interrupt__":
                                yield {
                                    "kind": "waiting",
                                    "prompt": change[0].value if change else None,
                                }
                            elif isinstance(change, dict) and change.get("notice"):
                                yield {"kind": "notice", "text": change["notice"]}
        final = await self.state()
        if final["ended"] and (ran or not (self.folder / "metrics.json").exists()):
            self.write_metrics(final["values"])

    def _mend_log(self, transcript: list[dict[str, Any]]) -> int:
        """Make transcript.jsonl a prefix of the checkpoint's transcript; return its length.

        The log holds the entries shown so far. A kill can leave half a line
        at its end, and a log written before entries waited for their
        checkpoint can hold turns the checkpoint never got (the graph plays
        them again): both are cut off here.
        """
        path = self.folder / "transcript.jsonl"
        logged: list[Any] = []
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            text = ""
        for line in text.splitlines():
            try:
                logged.append(json.loads(line))
            except ValueError:
                break
        shown = 0
        while shown < min(len(logged), len(transcript)) and logged[shown] == transcript[shown]:
            shown += 1
        if (
            shown < len(logged)
            or (text and not text.endswith("\n"))
            or len(text.splitlines()) > len(logged)
        ):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(
                "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in transcript[:shown]),
                encoding="utf-8",
            )
            tmp.replace(path)
        return shown

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
