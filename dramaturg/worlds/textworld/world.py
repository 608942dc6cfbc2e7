"""TextWorld games behind the dramaturg ``World`` API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dramaturg.worlds.base import BaseWorld, WorldCrashedError, make_info
from dramaturg.worlds.textworld._generate import generate_game

__all__ = ["PlayedWorld", "TextWorldWorld"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PlayedWorld(BaseWorld):
    """A world backed by an engine with ``reset() -> dict`` and ``step(cmd) -> dict``.

    Shared by TextWorld and the ALFWorld-style games. The engine runs in a child
    process by default (``isolate=True``), so a crash or a hang (no answer in
    ``step_timeout`` seconds) ends the episode with ``info["error"]`` set and
    ``info["crashed"] = True``; the next ``reset`` starts a fresh engine.
    """

    engine_factory: str = ""

    def __init__(
        self, *, isolate: bool = True, step_timeout: float = 60.0, max_steps: int | None = None
    ) -> None:
        super().__init__()
        self.isolate = isolate
        self.step_timeout = step_timeout
        self.max_steps = max_steps
        self._engine: Any = None
        self._engine_key: Any = None
        self._state: dict[str, Any] = {}
        self._plan: list[str] | None = None
        self._t = 0
        self._done = False

    # -- subclasses: which engine to run for this seed/options
    def _engine_kwargs(self, seed: int, options: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _start_engine(self, kwargs: dict[str, Any]) -> None:
        key = repr(sorted(kwargs.items()))
        if self._engine is not None and key == self._engine_key and self._engine_ok():
            return
        self._stop_engine()
        if self.isolate:
            from dramaturg.worlds._engine import EngineProcess

            self._engine = EngineProcess(self.engine_factory, kwargs, timeout=self.step_timeout)
        else:
            from dramaturg.worlds._engine import load_factory

            self._engine = load_factory(self.engine_factory)(**kwargs)
        self._engine_key = key

    def _engine_ok(self) -> bool:
        return not self.isolate or self._engine.alive()

    def _call(self, method: str, *args: Any) -> Any:
        if self.isolate:
            return self._engine.call(method, *args)
        return getattr(self._engine, method)(*args)

    def _stop_engine(self) -> None:
        if self._engine is not None:
            try:
                self._engine.close()
            except Exception:
                pass
        self._engine = None
        self._engine_key = None

    def close(self) -> None:
        self._stop_engine()
        super().close()

    # -- the protocol
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode; ``seed`` picks the game (same seed, same game, same episode)."""
        seed = 0 if seed is None else int(seed)
        self._start_engine(self._engine_kwargs(seed, dict(options or {})))
        try:
            self._state = self._call("reset")
        except (WorldCrashedError, RuntimeError) as exc:
            self._stop_engine()
            raise WorldCrashedError(f"{self.id}: the game engine failed on reset: {exc}") from exc
        self._plan = self._state.get("gold_plan")
        self._t = 0
        self._done = False
        self._reset_events()
        self._running = True
        return self._clean(self._state["feedback"]), self._info(error=None, events=[])

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Send one text command. Non-text or empty actions are refused with a reason."""
        self._require_running()
        if self._done:
            msg = "The episode is over. Reset the world to play again."
            return msg, 0.0, True, False, self._info(error=msg, events=[])
        if not isinstance(action, str):
            msg = f"Actions are text commands such as 'look' or 'go north', not {type(action).__name__}."
            return msg, 0.0, False, False, self._info(error=msg, events=[])
        command = " ".join(_CONTROL.sub(" ", action).split())
        if not command:
            msg = "Empty command. Type a command such as 'look', 'inventory' or 'go north'."
            return msg, 0.0, False, False, self._info(error=msg, events=[])
        self._t += 1
        admissible = self._state.get("admissible_commands")
        error = None
        if admissible and command.lower() not in admissible:
            error = f"{command!r} is not one of the admissible commands"
        before = self._state["score"]
        try:
            state = self._call("step", command.lower())
        except (WorldCrashedError, RuntimeError) as exc:
            self._done = True
            self._stop_engine()
            msg = f"The game engine crashed, so the episode is over: {exc}"
            info = self._info(error=msg, events=[])
            info["crashed"] = True
            return msg, 0.0, True, False, info
        self._state = {**self._state, **state}
        obs = self._clean(state["feedback"])
        terminated = bool(state["won"] or state["lost"] or state.get("done"))
        self._done = terminated
        truncated = self.max_steps is not None and self._t >= self.max_steps and not terminated
        event = self._new_event(
            step=self._t,
            place=None,
            actor="player",
            kind="command",
            text=f"player: {command}\n{obs}",
            witnesses=frozenset({"player"}),
            command=command,
        )
        return (
            obs,
            state["score"] - before,
            terminated,
            truncated,
            self._info(error=error, events=[event]),
        )

    def _info(self, *, error: str | None, events: list[Any]) -> dict[str, Any]:
        s = self._state
        return make_info(
            admissible_actions=None
            if self._done
            else list(s.get("admissible_commands") or []) or None,
            events=events,
            score=s.get("score", 0.0),
            max_score=s.get("max_score"),
            won=bool(s.get("won")),
            lost=bool(s.get("lost")),
            gold_plan=list(self._plan) if self._plan else None,
            error=error,
            objective=s.get("objective"),
            moves=s.get("moves"),
            policy_commands=s.get("policy_commands"),
        )

    def _clean(self, text: str) -> str:
        return text.strip()


_LOGO_LINE = re.compile(r"^[\s_|\\/$<>]+$")


class TextWorldWorld(PlayedWorld):
    """TextWorld games generated offline with ``tw-make``, one per seed, cached.

    Args:
        challenge: ``tw-simple``, ``tw-cooking``, ``tw-coin_collector``,
            ``tw-treasure_hunter`` or ``custom``.
        options: ``tw-make`` options (``{"level": 5}``, ``{"recipe": 2, "cut": True}``).
        game_file: play this game instead of generating one.
        isolate: run the game in a child process (crash- and hang-safe).
        policy_commands: also report ``info["policy_commands"]``, TextWorld's
            winning commands from the current state (slower: it replans each step).

    Example:
        >>> from dramaturg.worlds import make_world
        >>> with make_world("textworld/tw-cooking") as world:  # doctest: +SKIP
        ...     obs, info = world.reset(seed=3)   # generates (or reuses) game #3
        ...     for command in info["gold_plan"]:
        ...         obs, reward, terminated, truncated, info = world.step(command)
        ...     info["won"]
        True
    """

    engine_factory = "dramaturg.worlds.textworld._engine:TextWorldEngine"

    def __init__(
        self,
        challenge: str = "tw-simple",
        *,
        options: dict[str, Any] | None = None,
        game_file: str | Path | None = None,
        isolate: bool = True,
        step_timeout: float = 60.0,
        max_steps: int | None = None,
        policy_commands: bool = False,
    ) -> None:
        super().__init__(isolate=isolate, step_timeout=step_timeout, max_steps=max_steps)
        self.policy_commands = policy_commands
        self.challenge = challenge
        self.options = dict(options or {})
        self.game_file = Path(game_file) if game_file else None
        self.id = f"textworld/{challenge}"

    def _engine_kwargs(self, seed: int, options: dict[str, Any]) -> dict[str, Any]:
        if "game_file" in options:
            path = Path(options["game_file"])
        elif self.game_file is not None:
            path = self.game_file
        else:
            path = generate_game(self.challenge, {**self.options, **options}, seed)
        return {"game_file": str(path), "policy": self.policy_commands}

    def _clean(self, text: str) -> str:
        # Drop the status line Inform 7 pads with spaces ("-= Kitchen =-0/1").
        text = text.split("Would you like to RESTART, RESTORE", 1)[0]
        lines = [ln.rstrip() for ln in text.splitlines()]
        lines = [ln for ln in lines if not re.match(r"^>\s{10,}", ln)]
        # The first observation opens with the TEXTWORLD logo in ASCII art: 18 lines
        # (about 250 tokens) that would fill an agent's cut of the observation.
        while lines and (not lines[0].strip() or _LOGO_LINE.match(lines[0])):
            lines.pop(0)
        return "\n".join(lines).strip()
