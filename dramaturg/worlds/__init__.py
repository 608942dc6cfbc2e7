"""Worlds agents act in, behind one Gymnasium-shaped API.

Every world has ``reset(*, seed, options) -> (obs, info)`` and
``step(action) -> (obs, reward, terminated, truncated, info)``; ``info`` always
carries :data:`INFO_KEYS`. Build one by id::

    from dramaturg.worlds import make_world, list_worlds, check_world

    with make_world("theatre/elsinore") as world:
        obs, info = world.reset(seed=0)
        obs, reward, terminated, truncated, info = world.step("open door")

Families: ``theatre/*`` (always available), ``textworld/*`` and
``alfworld/*`` (need ``dramaturg[textworld]``), ``web/*`` (stdlib; the
browser mode needs ``dramaturg[browser]`` and a Chromium).
"""

from dramaturg.worlds.base import (
    INFO_KEYS,
    BaseWorld,
    Event,
    World,
    WorldCrashedError,
    WorldError,
    WorldNotResetError,
    make_info,
)
from dramaturg.worlds.check import WorldCheckError, check_world
from dramaturg.worlds.registry import WorldSpec, list_worlds, make_world, register_world

__all__ = [
    "INFO_KEYS",
    "BaseWorld",
    "Event",
    "World",
    "WorldCheckError",
    "WorldCrashedError",
    "WorldError",
    "WorldNotResetError",
    "WorldSpec",
    "check_world",
    "list_worlds",
    "make_info",
    "make_world",
    "register_world",
]
