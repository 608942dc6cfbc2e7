"""Play an ALFWorld-style game file with TextWorld's PDDL engine (dicts in and out)."""

from __future__ import annotations

from typing import Any

from dramaturg.worlds.textworld._engine import TextWorldEngine

__all__ = ["AlfworldEngine"]


def _demangler_wrapper() -> Any:
    import textworld
    from alfworld.agents.utils.misc import Demangler

    class AlfredDemangler(textworld.core.Wrapper):  # type: ignore[misc, unused-ignore]
        """Names entities like ALFWorld does (``Apple_bar__plus_01...`` -> ``apple 1``)."""

        def load(self, *args: Any, **kwargs: Any) -> None:
            super().load(*args, **kwargs)
            demangler = Demangler(game_infos=self._entity_infos, shuffle=False)
            for info in self._entity_infos.values():
                info.name = demangler.demangle_alfred_name(info.id)

    return AlfredDemangler


class AlfworldEngine(TextWorldEngine):
    """One ``.tw-pddl`` game, played through ``textworld.start``.

    The PDDL engine knows only whether the task is won, so the score is 1 for
    a win and 0 before; the objective is the "Your task is to:" line.
    """

    def __init__(self, game_file: str) -> None:
        super().__init__(game_file)

    def _start(self) -> Any:
        import textworld

        infos = textworld.EnvInfos(
            admissible_commands=True, won=True, moves=True, extras=["walkthrough"]
        )
        return textworld.start(self.game_file, request_infos=infos, wrappers=[_demangler_wrapper()])

    def _state(self, gs: Any) -> dict[str, Any]:
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

    def _objective(self, gs: Any) -> str | None:
        feedback: str = gs.feedback
        if "Your task is to:" not in feedback:
            return None
        return feedback.split("Your task is to:", 1)[-1].strip()

    def _gold_plan(self, gs: Any) -> list[str] | None:
        plan = list(gs.get("extra.walkthrough") or []) or None
        # PddlEnv replans on every reset unless the game carries a walkthrough;
        # keep the first plan so later resets of this game are fast.
        core = self.env
        while hasattr(core, "_wrapped_env"):
            core = core._wrapped_env
        if plan and not getattr(core, "walkthrough", None):
            core.walkthrough = list(plan)
        return plan
