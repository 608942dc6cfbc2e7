"""The worlds that ship with dramaturg, registered lazily (nothing heavy is imported here)."""

from __future__ import annotations

__all__ = ["ALFWORLD_TASKS", "TEXTWORLD_CHALLENGES", "register_builtin_worlds"]

TEXTWORLD_CHALLENGES = (
    "tw-simple",
    "tw-cooking",
    "tw-coin_collector",
    "tw-treasure_hunter",
    "custom",
)
ALFWORLD_TASKS = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)


def register_builtin_worlds() -> None:
    from dramaturg.worlds.registry import register_world
    from dramaturg.worlds.theatre import bundled_stages

    for name in bundled_stages():
        register_world(
            f"theatre/{name}",
            "dramaturg.worlds.theatre:TheatreWorld",
            stage=name,
            id=f"theatre/{name}",
            description=f"bundled stage {name!r}",
            overwrite=True,
        )
    register_world(
        "theatre/stage",
        "dramaturg.worlds.theatre:TheatreWorld",
        description="your own stage file: stage=PATH",
        overwrite=True,
    )
    for ch in TEXTWORLD_CHALLENGES:
        register_world(
            f"textworld/{ch}",
            "dramaturg.worlds.textworld:TextWorldWorld",
            challenge=ch,
            description=f"TextWorld {ch} games generated offline",
            overwrite=True,
        )
    for task in ALFWORLD_TASKS:
        register_world(
            f"alfworld/{task}",
            "dramaturg.worlds.alfworld:AlfworldWorld",
            task_type=task,
            description=f"ALFWorld-style {task} games",
            overwrite=True,
        )
    for site in ("shop", "wiki"):
        register_world(
            f"web/{site}",
            "dramaturg.worlds.web:WebWorld",
            site=site,
            description=f"local {site} site on 127.0.0.1",
            overwrite=True,
        )
