"""``check_world``: the conformance test every world passes (like Gymnasium's ``check_env``)."""

from __future__ import annotations

import json
import random
from typing import Any

from dramaturg.errors import DramaturgError
from dramaturg.worlds.base import INFO_KEYS, Event

__all__ = ["WorldCheckError", "check_world"]

_GARBLED: tuple[Any, ...] = (
    "",
    "   ",
    "xyzzy plugh frobnicate",
    "take the the the",
    "\x00\x7f%%%",
    42,
    None,
)


class WorldCheckError(DramaturgError, AssertionError):
    """A world broke the contract; the message says which part."""


def _fail(msg: str) -> None:
    raise WorldCheckError(msg)


def _check_info(info: Any, where: str) -> None:
    if not isinstance(info, dict):
        _fail(f"{where}: info must be a dict, got {type(info).__name__}")
    missing = [k for k in INFO_KEYS if k not in info]
    if missing:
        _fail(f"{where}: info lacks keys {missing}")
    adm = info["admissible_actions"]
    if adm is not None and not (isinstance(adm, list) and all(isinstance(a, str) for a in adm)):
        _fail(f"{where}: admissible_actions must be a list of str or None")
    if not isinstance(info["events"], list) or not all(
        isinstance(e, Event) for e in info["events"]
    ):
        _fail(f"{where}: events must be a list of Event")
    for e in info["events"]:
        if not isinstance(e.witnesses, frozenset):
            _fail(f"{where}: event {e.id} witnesses must be a frozenset")
    if not isinstance(info["score"], int | float):
        _fail(f"{where}: score must be a number")
    if info["max_score"] is not None and not isinstance(info["max_score"], int | float):
        _fail(f"{where}: max_score must be a number or None")
    for k in ("won", "lost"):
        if not isinstance(info[k], bool):
            _fail(f"{where}: {k} must be a bool")
    plan = info["gold_plan"]
    if plan is not None and not (isinstance(plan, list) and all(isinstance(a, str) for a in plan)):
        _fail(f"{where}: gold_plan must be a list of str or None")
    if info["error"] is not None and not isinstance(info["error"], str):
        _fail(f"{where}: error must be a str or None")


def _check_step(result: Any, where: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
    if not (isinstance(result, tuple) and len(result) == 5):
        _fail(f"{where}: step must return a 5-tuple (obs, reward, terminated, truncated, info)")
    obs, reward, terminated, truncated, info = result
    if not isinstance(obs, str):
        _fail(f"{where}: observation must be a str, got {type(obs).__name__}")
    if not isinstance(reward, int | float) or isinstance(reward, bool):
        _fail(f"{where}: reward must be a number")
    if not isinstance(terminated, bool) or not isinstance(truncated, bool):
        _fail(f"{where}: terminated and truncated must be bools")
    _check_info(info, where)
    checked: tuple[str, float, bool, bool, dict[str, Any]] = result
    return checked


def _comparable(info: dict[str, Any]) -> tuple[Any, ...]:
    # Event ids and texts are part of the episode; timings and handles are not.
    return (
        info["admissible_actions"],
        [(e.kind, e.text, sorted(e.witnesses), e.actor, e.place) for e in info["events"]],
        info["score"],
        info["max_score"],
        info["won"],
        info["lost"],
        info["gold_plan"],
        info["error"],
    )


def _rollout(world: Any, seed: int, steps: int, options: dict[str, Any] | None) -> list[Any]:
    obs, info = world.reset(seed=seed, options=options)
    if not isinstance(obs, str):
        _fail(f"reset: observation must be a str, got {type(obs).__name__}")
    _check_info(info, "reset")
    trace: list[Any] = [(obs, _comparable(info))]
    rng = random.Random(seed)
    plan = list(info["gold_plan"] or [])
    for i in range(steps):
        adm = info["admissible_actions"]
        if plan and i % 2 == 0:
            action = plan.pop(0)
        elif adm:
            action = rng.choice(adm)
        else:
            action = "look"
        obs, reward, term, trunc, info = _check_step(world.step(action), f"step {i} ({action!r})")
        trace.append((action, obs, reward, term, trunc, _comparable(info)))
        if term or trunc:
            break
    return trace


def _check_state(world: Any, seed: int, actions: list[Any], options: dict[str, Any] | None) -> None:
    """Save the episode half-way, play on, restore the save: the rest must play out the same."""
    half = len(actions) // 2
    world.reset(seed=seed, options=options)
    for action in actions[:half]:
        world.step(action)
    try:
        state = world.get_state()
        saved = json.loads(json.dumps(state))
    except (TypeError, ValueError) as exc:
        _fail(f"get_state must return a JSON-ready dict: {exc}")
    if saved != state:
        _fail("get_state must return a JSON-ready dict (it changed through json.dumps/json.loads)")

    def play_on() -> list[Any]:
        out = []
        for action in actions[half:]:
            obs, reward, term, trunc, info = world.step(action)
            out.append((action, obs, reward, term, trunc, _comparable(info)))
        return out

    first = play_on()
    try:
        world.set_state(saved)
    except Exception as exc:
        _fail(f"set_state(get_state()) raised {type(exc).__name__}: {exc}")
    if world.get_state() != saved:
        _fail("after set_state(state), get_state() must return that state")
    again = play_on()
    for a, b in zip(first, again, strict=True):
        if a != b:
            _fail(
                f"restored with set_state, the episode went on differently:\n first: {a!r}\n again: {b!r}"
            )


def check_world(
    world: Any,
    *,
    seed: int = 0,
    steps: int = 6,
    options: dict[str, Any] | None = None,
    illegal_actions: tuple[Any, ...] = _GARBLED,
) -> None:
    """Check that ``world`` follows the contract; raise :class:`WorldCheckError` if not.

    Checks: ``reset``/``step`` return the right types and every ``info`` key;
    two episodes with the same seed and actions are identical; where the world
    has ``get_state``/``set_state``, a state saved half-way is JSON-ready and,
    restored, plays on exactly as before; illegal, unknown
    and garbled actions (including non-strings) return an observation that says
    why, with ``info["error"]`` set where the world can tell, never an
    exception; the world still works after them.

    Example:
        >>> from dramaturg.worlds import make_world, check_world
        >>> with make_world("theatre/elsinore") as w:
        ...     check_world(w)
    """
    for name in ("reset", "step", "close"):
        if not callable(getattr(world, name, None)):
            _fail(f"world has no {name}() method")
    first = _rollout(world, seed, steps, options)
    second = _rollout(world, seed, steps, options)
    if first != second:
        for a, b in zip(first, second, strict=False):
            if a != b:
                _fail(f"same seed, different episode:\n first: {a!r}\nsecond: {b!r}")
        _fail("same seed, different episode length")
    if callable(getattr(world, "get_state", None)) and callable(getattr(world, "set_state", None)):
        _check_state(world, seed, [t[0] for t in first[1:]], options)

    world.reset(seed=seed, options=options)
    for bad in illegal_actions:
        try:
            result = world.step(bad)
        except Exception as exc:
            _fail(f"illegal action {bad!r} raised {type(exc).__name__}: {exc}")
        obs, _, term, _, info = _check_step(result, f"illegal action {bad!r}")
        if not obs.strip():
            _fail(f"illegal action {bad!r} gave an empty observation (it should say why)")
        if term:
            # A garbled action must not end the episode; restart to keep checking.
            _fail(f"illegal action {bad!r} ended the episode")
    # And the world still answers a normal action afterwards.
    _, info = world.reset(seed=seed, options=options)
    action = (info["gold_plan"] or info["admissible_actions"] or ["look"])[0]
    _check_step(world.step(action), "step after illegal actions")
