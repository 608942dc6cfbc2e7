"""Procedural ALFWorld-style games: PDDL problems on the ALFWorld domain and grammar.

The ``alfworld`` wheel ships the PDDL domain (``alfred.pddl``), the text
grammar (``alfred.twl2``), the goal library of the six task types and the
receptacle layouts of the 120 ALFRED floor plans, but not its game files
(they are a download). This module builds games from those parts:

1. pick a floor plan of the split (seen/unseen hold out different floor plans
   and different target object types);
2. place objects of the plan's object types into receptacles that may hold
   them (ALFRED's ``VAL_RECEPTACLE_OBJECTS``), with ALFRED-style ids
   (``Apple_bar__plus_01_dot_23_bar_...``) so the demangler names them
   ``apple 1``;
3. pick a task (target object, target receptacle, lamp) that is feasible and
   not already satisfied, and take its goal from the goal library.

The game is a JSON document ``{pddl_domain, grammar, pddl_problem}``, which
TextWorld's PDDL engine plays; the planner (Fast Downward) gives the gold plan.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from dramaturg.errors import ConfigError, MissingExtraError

__all__ = ["TASK_TYPES", "GameSpec", "floor_plans", "make_game", "split_of_object"]

TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)
_MOVABLE = {
    "Bowl",
    "Cup",
    "Mug",
    "Pan",
    "Plate",
    "Pot",
}  # receptacle objects: placed as objects here
_LAMPS = ("DeskLamp", "FloorLamp")
_LAMP_HOSTS = (
    "SideTable",
    "Desk",
    "Dresser",
    "DiningTable",
    "CoffeeTable",
    "Shelf",
    "TVStand",
    "CounterTop",
)
_NEEDS = {
    "pick_clean_then_place_in_recep": ("SinkBasin", "Cleanable"),
    "pick_heat_then_place_in_recep": ("Microwave", "Heatable"),
    "pick_cool_then_place_in_recep": ("Fridge", "Coolable"),
}


@dataclass(kw_only=True, frozen=True)
class GameSpec:
    """What a generated game is about (also stored next to the game)."""

    task_type: str
    split: str
    seed: int
    floor_plan: str
    target: str
    receptacle: str | None
    lamp: str | None
    goal_text: str


def _alfworld() -> Any:
    try:
        import alfworld.gen.constants as constants
        import alfworld.gen.goal_library as goals
    except ImportError as exc:
        raise MissingExtraError("alfworld", "textworld", "ALFWorld-style games") from exc
    return constants, goals


def _data(name: str) -> str:
    return resources.files("alfworld").joinpath("data", name).read_text()


@cache
def floor_plans() -> dict[str, dict[str, Any]]:
    """Every floor plan in the wheel: its object types and receptacles with their poses."""
    layouts = resources.files("alfworld").joinpath("gen", "layouts")
    plans: dict[str, dict[str, Any]] = {}
    for entry in sorted(layouts.iterdir(), key=lambda p: p.name):
        if entry.name.endswith("-objects.json"):
            name = entry.name.removesuffix("-objects.json")
            recs = json.loads(layouts.joinpath(f"{name}-openable.json").read_text())
            plans[name] = {"objects": json.loads(entry.read_text()), "receptacles": recs}
    return plans


def _plan_split(name: str) -> str:
    # Every fifth floor plan of each room type is held out (ALFRED holds out whole rooms too).
    return "unseen" if int(name.removeprefix("FloorPlan")) % 5 == 0 else "seen"


def split_of_object(obj: str) -> str:
    """Target object types alternate between the splits in alphabetical order per class."""
    constants, _ = _alfworld()
    pickable = sorted(
        set(constants.OBJECTS) - (set(constants.VAL_RECEPTACLE_OBJECTS) - _MOVABLE) - set(_LAMPS)
    )
    return "unseen" if obj in pickable and pickable.index(obj) % 4 == 3 else "seen"


def _rtype(rec: str) -> str:
    # "Cabinet|+00.68|+00.50|-02.20" -> Cabinet; "Sink|-01.90|+00.97|-01.50|SinkBasin" -> SinkBasin
    parts = rec.split("|")
    return parts[-1] if len(parts) > 4 else parts[0]


def _mangle(text: str) -> str:
    return (
        text.replace("|", "_bar_")
        .replace("-", "_minus_")
        .replace("+", "_plus_")
        .replace(".", "_dot_")
        .replace(",", "_comma_")
    )


def _coord(rng: random.Random) -> str:
    v = rng.uniform(-3, 3)
    return f"{'+' if v >= 0 else '-'}{abs(v):05.2f}"


def make_game(task_type: str, *, seed: int, split: str = "seen") -> tuple[dict[str, str], GameSpec]:
    """Build one playable game. Same arguments, same game (byte for byte)."""
    if task_type not in TASK_TYPES:
        raise ConfigError(
            f"unknown ALFWorld task type {task_type!r}; choose one of {list(TASK_TYPES)}"
        )
    if split not in ("seen", "unseen"):
        raise ConfigError(f"split must be 'seen' or 'unseen', not {split!r}")
    constants, goals = _alfworld()
    rng = random.Random(f"{task_type}/{split}/{seed}")
    plans = [p for p in floor_plans() if _plan_split(p) == split]
    for _ in range(500):
        plan = rng.choice(plans)
        built = _try_plan(task_type, split, plan, rng, constants, goals)
        if built is not None:
            problem, spec_kw = built
            spec = GameSpec(task_type=task_type, split=split, seed=seed, floor_plan=plan, **spec_kw)
            grammar = _data("alfred.twl2").replace("UNKNOWN GOAL", spec.goal_text)
            return {
                "pddl_domain": _data("alfred.pddl"),
                "grammar": grammar,
                "pddl_problem": problem,
            }, spec
    raise ConfigError(f"could not build a {task_type} game for split {split!r} with seed {seed}")


def _try_plan(
    task_type: str, split: str, plan: str, rng: random.Random, constants: Any, goals: Any
) -> Any:
    layout = floor_plans()[plan]
    val = constants.VAL_RECEPTACLE_OBJECTS
    actions = constants.VAL_ACTION_OBJECTS
    recs = sorted(layout["receptacles"])  # "Cabinet|+00.68|+00.50|-02.20"
    rtypes = {_rtype(r) for r in recs}
    need = _NEEDS.get(task_type)
    if need and need[0] not in rtypes:
        return None
    kinds = [
        o
        for o in sorted(set(layout["objects"]))
        if o in constants.OBJECTS and o not in rtypes and o not in _LAMPS
    ]
    kinds = [o for o in kinds if o in _MOVABLE or o not in val]
    kinds = [o for o in kinds if any(o in val.get(t, ()) for t in rtypes)]
    lamp = None
    if task_type == "look_at_obj_in_light":
        lamps = [lp for lp in _LAMPS if lp in layout["objects"]]
        hosts = [r for r in recs if _rtype(r) in _LAMP_HOSTS]
        if not lamps or not hosts:
            return None
        lamp = rng.choice(lamps)
    # The target: of this split, able to undergo the task, with a different receptacle to go to.
    candidates = [o for o in kinds if split_of_object(o) == split]
    if need:
        candidates = [o for o in candidates if o in actions[need[1]]]
    if not candidates:
        return None
    target = rng.choice(candidates)
    dest_types = sorted(
        t for t in rtypes if target in val.get(t, ()) and (not need or t != need[0])
    )
    if task_type != "look_at_obj_in_light" and not dest_types:
        return None
    dest = rng.choice(dest_types) if task_type != "look_at_obj_in_light" else None
    # Place objects: the target 1-3 times (2-3 for two-object tasks), a few distractors once or twice.
    others = [o for o in kinds if o != target]
    rng.shuffle(others)
    counts = {
        target: rng.randint(2, 3) if task_type == "pick_two_obj_and_place" else rng.randint(1, 2)
    }
    for o in others[: rng.randint(4, 8)]:
        counts[o] = rng.randint(1, 2)
    placed: list[tuple[str, str, str]] = []  # (object id, type, receptacle)
    for otype, n in counts.items():
        hosts = [
            r
            for r in recs
            if otype in val.get(_rtype(r), ()) and (otype != target or _rtype(r) != dest)
        ]
        if not hosts:
            if otype == target:
                return None
            continue
        for _ in range(n):
            oid = f"{otype}|{_coord(rng)}|{_coord(rng)}|{_coord(rng)}"
            placed.append((oid, otype, rng.choice(hosts)))
    if lamp:
        host = rng.choice([r for r in recs if _rtype(r) in _LAMP_HOSTS])
        placed.append((f"{lamp}|{_coord(rng)}|{_coord(rng)}|{_coord(rng)}", lamp, host))
    problem = _problem(plan, layout, recs, placed, constants, task_type, target, dest, lamp, goals)
    names = {
        o: o.lower() for o in (target, dest, lamp) if o
    }  # as ALFWorld's templated goals name them
    template = goals.gdict[task_type]["templates"][rng.randrange(2)]
    text = template.format(obj=names[target], recep=names.get(dest, ""), toggle=names.get(lamp, ""))
    return problem, {"target": target, "receptacle": dest, "lamp": lamp, "goal_text": text}


def _loc(pose: list[float]) -> str:
    x, z, rot, hor = (round(v * 4) if i < 2 else int(v) for i, v in enumerate(pose))
    return _mangle(f"loc|{x}|{z}|{rot // 90}|{hor}")


def _problem(
    plan: str,
    layout: dict[str, Any],
    recs: list[str],
    placed: list[tuple[str, str, str]],
    constants: Any,
    task_type: str,
    target: str,
    dest: str | None,
    lamp: str | None,
    goals: Any,
) -> str:
    val = constants.VAL_RECEPTACLE_OBJECTS
    actions = constants.VAL_ACTION_OBJECTS
    rec_ids = {r: _mangle(r) for r in recs}
    rec_loc = {r: _loc(layout["receptacles"][r]) for r in recs}
    otypes = sorted(
        {t for _, t, _ in placed} | {"Knife", "ButterKnife", target} | ({lamp} if lamp else set())
    )
    rtypes = sorted(
        {_rtype(r) for r in recs}
        | {"SinkBasin", "Microwave", "Fridge"}
        | ({dest} if dest else set())
    )
    objs = ["agent1 - agent"]
    objs += [f"{t}Type - otype" for t in otypes]
    objs += [f"{t}Type - rtype" for t in rtypes]
    objs += sorted({f"{loc} - location" for loc in rec_loc.values()} | {"loc_bar_start - location"})
    objs += [f"{rec_ids[r]} - receptacle" for r in recs]
    objs += [f"{_mangle(o)} - object" for o, _, _ in placed]
    init = ["(atLocation agent1 loc_bar_start)"]
    for r in recs:
        rt = _rtype(r)
        init += [
            f"(receptacleType {rec_ids[r]} {rt}Type)",
            f"(receptacleAtLocation {rec_ids[r]} {rec_loc[r]})",
        ]
        if rt in constants.OPENABLE_CLASS_SET:
            init.append(f"(openable {rec_ids[r]})")
    for rt in rtypes:
        init += [f"(canContain {rt}Type {ot}Type)" for ot in otypes if ot in val.get(rt, ())]
    for o, ot, r in placed:
        oid = _mangle(o)
        init += [
            f"(objectType {oid} {ot}Type)",
            f"(inReceptacle {oid} {rec_ids[r]})",
            f"(objectAtLocation {oid} {rec_loc[r]})",
        ]
        if ot not in _LAMPS:
            init.append(f"(pickupable {oid})")
        for flag, cls in (
            ("cleanable", "Cleanable"),
            ("heatable", "Heatable"),
            ("coolable", "Coolable"),
            ("toggleable", "Toggleable"),
            ("sliceable", "Sliceable"),
        ):
            if ot in actions[cls]:
                init.append(f"({flag} {oid})")
        if ot in _MOVABLE:
            init.append(f"(isReceptacleObject {oid})")
    goal: str = (
        goals.gdict[task_type]["pddl"]
        .replace("#", "-")
        .format(obj=target, recep=dest or "", toggle=lamp or "")
    )
    return (
        f"(define (problem {plan.lower()}_{task_type})\n(:domain alfred)\n(:objects\n  "
        + "\n  ".join(objs)
        + "\n)\n(:init\n  "
        + "\n  ".join(init)
        + "\n)\n"
        + goal.strip()
        + "\n"
    )
