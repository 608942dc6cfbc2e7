"""Play an ALFWorld-style game file with TextWorld's PDDL engine (dicts in and out)."""

from __future__ import annotations

from typing import Any

__all__ = ["AlfworldEngine"]


def _demangler_wrapper() -> Any:
    import textworld
    from alfworld.agents.utils.misc import Demangler

    class AlfredDemangler(textworld.core.Wrapper):
        """Names entities like ALFWorld does (``Apple_bar__plus_01...`` -> ``apple 1``)."""

        def load(self, *args: Any, **kwargs: Any) -> None:
            super().load(*args, **kwargs)
            demangler = Demangler(game_infos=self._entity_infos, shuffle=False)
            for info in self._entity_infos.values():
                info.name = demangler.demangle_alfred_name(info.id)

    return AlfredDemangler


class AlfworldEngine:
    """One ``.tw-pddl`` game, played through ``textworld.start``."""

    def __init__(self, game_file: str) -> None:
        import textworld

        infos = textworld.EnvInfos(
            admissible_commands=True, won=True, moves=True, extras=["walkthrough"]
        )
        self.env = textworld.start(game_file, request_infos=infos, wrappers=[_demangler_wrapper()])

    @staticmethod
    def _state(gs: Any) -> dict[str, Any]:
        won = bool(gs["won"])
        return {
            "feedback": gs.feedback,
            "score": 1.0 if won else 0.0,
            "max_score": 1.0,
            "won": won,
            "lost": False,
            "admissible_commands": list(gs["admissible_commands"]),
            "moves": gs.get("moves"),
        }

    def reset(self) -> dict[str, Any]:
        gs = self.env.reset()
        state = self._state(gs)
        state["gold_plan"] = list(gs.get("extra.walkthrough") or []) or None
        # PddlEnv replans on every reset unless the game carries a walkthrough;
        # keep the first plan so later resets of this game are fast.
        core = self.env
        while hasattr(core, "_wrapped_env"):
            core = core._wrapped_env
        if state["gold_plan"] and not getattr(core, "walkthrough", None):
            core.walkthrough = list(state["gold_plan"])
        feedback = gs.feedback
        state["objective"] = (
            feedback.split("Your task is to:", 1)[-1].strip()
            if "Your task is to:" in feedback
            else None
        )
        return state

    def step(self, command: str) -> dict[str, Any]:
        gs, _, done = self.env.step(command)
        state = self._state(gs)
        state["done"] = bool(done)
        return state

    def close(self) -> None:
        self.env.close()
