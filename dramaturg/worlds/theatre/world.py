"""The theatre stage world: characters act in turn; events reach their witnesses only."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dramaturg.worlds.base import BaseWorld, Event, make_info
from dramaturg.worlds.theatre import actions as A
from dramaturg.worlds.theatre._resolve import IllegalAction, resolve
from dramaturg.worlds.theatre.schema import Stage, StageFileError, load_stage

__all__ = ["TheatreWorld"]


class TheatreWorld(BaseWorld):
    """A stage: locations, props with states and affordances, characters taking turns.

    Actions are typed objects (:mod:`dramaturg.worlds.theatre.actions`) or text
    commands (``'say Ophelia "hello"'``, ``'hamlet: take letter'``). Each legal
    action produces :class:`~dramaturg.worlds.Event` records whose witnesses are
    the characters present plus those who listen to the actor; a letter's text
    reaches only its reader. ``info["turn"]`` names who acts next and
    ``info["observations"]`` maps each character to what they perceived.

    Example:
        >>> from dramaturg.worlds import make_world
        >>> world = make_world("theatre/elsinore")
        >>> obs, info = world.reset(seed=0)
        >>> info["turn"]
        'hamlet'
        >>> obs, reward, terminated, truncated, info = world.step('say Claudius "Something is rotten."')
        >>> sorted(info["events"][0].witnesses)  # Claudius is here; Horatio listens to Hamlet
        ['claudius', 'hamlet', 'horatio']
        >>> world.close()
    """

    steps_inline = True  # pure Python: a step takes microseconds

    def __init__(
        self, stage: str | Path | dict[str, Any] | Stage = "elsinore", *, id: str | None = None
    ) -> None:
        super().__init__()
        self._configure(stage if isinstance(stage, Stage) else load_stage(stage))
        self.id = id or f"theatre/{self.stage.title.lower().replace(' ', '_')}"

    def _configure(self, stage: Stage) -> None:
        self.stage = stage
        self._order = list(self.stage.turn_order or self.stage.characters)
        self._speakers: set[str] = set()
        for cid, ch in self.stage.characters.items():
            self._speakers |= {cid, ch.name.lower()}
        self._init_state()

    # ------------------------------------------------------------------ state
    def _init_state(self) -> None:
        st = self.stage
        self.t = 0
        self.turn = 0
        self.char_loc = {cid: ch.location for cid, ch in st.characters.items()}
        self.prop_loc = {pid: p.location for pid, p in st.props.items()}
        self.prop_holder = {pid: p.holder for pid, p in st.props.items()}
        self.prop_states = {pid: dict(p.states) for pid, p in st.props.items()}
        self.log: list[Event] = []
        self.won = False
        self.done = False
        self._reset_events()

    def get_state(self) -> dict[str, Any]:
        """Everything needed to resume this episode exactly (JSON-ready)."""
        self._require_running()
        return {
            "version": 1,
            "stage": self.stage.model_dump(mode="json"),
            "t": self.t,
            "turn": self.turn,
            "char_loc": dict(self.char_loc),
            "prop_loc": dict(self.prop_loc),
            "prop_holder": dict(self.prop_holder),
            "prop_states": copy.deepcopy(self.prop_states),
            "log": [e.to_dict() for e in self.log],
            "won": self.won,
            "done": self.done,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`get_state` (also into a fresh world)."""
        if state.get("version") != 1:
            raise StageFileError(f"unknown theatre state version {state.get('version')!r}")
        stage = load_stage(state["stage"])
        if stage != self.stage:
            self._configure(stage)
        self.t = state["t"]
        self.turn = state["turn"]
        self.char_loc = dict(state["char_loc"])
        self.prop_loc = dict(state["prop_loc"])
        self.prop_holder = dict(state["prop_holder"])
        self.prop_states = copy.deepcopy(state["prop_states"])
        self.log = [Event.from_dict(e) for e in state["log"]]
        self.won = state["won"]
        self.done = state["done"]
        self._reset_events(len(self.log) + 1)
        self._running = True

    # ------------------------------------------------------------------ api
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Put every character and prop back in its starting place. ``seed`` is accepted
        for the protocol; the stage itself is deterministic."""
        self._init_state()
        self._running = True
        actor = self.current
        return self.describe(actor), self._info([], error=None)

    @property
    def current(self) -> str:
        """The character whose turn it is."""
        return self._order[self.turn % len(self._order)]

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one action. Illegal actions return the reason and leave the turn unchanged."""
        self._require_running()
        self.t += 1
        if self.done:
            return (
                "The scene is over. Reset the world to play again.",
                0.0,
                True,
                False,
                self._info([], error="episode is over"),
            )
        try:
            act = self._coerce(action)
            actor = self._actor(act)
            obs, events = self._apply(actor, act)
        except (A.ActionParseError, IllegalAction) as exc:
            return str(exc), 0.0, False, False, self._info([], error=str(exc))
        self.log.extend(events)
        self.turn = self._order.index(actor) + 1
        reward = 0.0
        if self.stage.goal is not None and not self.won and self._goal_met():
            self.won, self.done, reward = True, True, 1.0
            obs += "\n*** " + (self.stage.goal.text or "The scene is won.") + " ***"
        truncated = (
            self.stage.max_steps is not None and self.t >= self.stage.max_steps and not self.done
        )
        return obs, reward, self.done, truncated, self._info(events, error=None)

    # ------------------------------------------------------------------ views
    def describe(self, cid: str) -> str:
        """What character ``cid`` sees where they stand."""
        lid = self.char_loc[cid]
        loc = self.stage.locations[lid]
        lines = [f"{loc.name}. {loc.description}".strip()]
        exits = [f"{d} ({self.stage.locations[e.to].name})" for d, e in loc.exits.items()]
        if exits:
            lines.append("Exits: " + ", ".join(exits) + ".")
        here = [self._prop_label(p) for p, where in self.prop_loc.items() if where == lid]
        if here:
            lines.append("You see: " + ", ".join(here) + ".")
        others = [
            self.stage.characters[c].name
            for c, where in self.char_loc.items()
            if where == lid and c != cid
        ]
        if others:
            lines.append("Present: " + ", ".join(others) + ".")
        held = [self._prop_label(p) for p, h in self.prop_holder.items() if h == cid]
        lines.append("You carry: " + (", ".join(held) if held else "nothing") + ".")
        lines.append(f"You are {self.stage.characters[cid].name}.")
        return "\n".join(lines)

    def admissible_actions(self, cid: str) -> list[str]:
        """Concrete legal commands for ``cid`` now (speech shown as templates)."""
        lid = self.char_loc[cid]
        out = ["look", "inventory", "wait", 'say "<line>"', 'aside "<line>"']
        present = [c for c, where in self.char_loc.items() if where == lid and c != cid]
        for c in present:
            out += [f'say {c} "<line>"', f'whisper {c} "<line>"']
        for d, ex in self.stage.locations[lid].exits.items():
            if ex.door is None or self.prop_states[ex.door].get("open"):
                out.append(f"move {d}")
        for pid in self._reachable(cid):
            prop = self.stage.props[pid]
            if self.prop_holder[pid] is None and prop.portable:
                out.append(f"take {pid}")
            if self.prop_holder[pid] == cid:
                out += [f"give {pid} to {c}" for c in present]
            if prop.openable:
                out.append(f"close {pid}" if self.prop_states[pid].get("open") else f"open {pid}")
            if prop.readable is not None:
                out.append(f"read {pid}")
            for verb, aff in prop.affordances.items():
                if self._affordance_ok(cid, pid, aff, as_known=True) is None:
                    out.append(f"{verb} {pid}")
            out.append(f"examine {pid}")
        return out

    # ------------------------------------------------------------------ helpers
    def _info(self, events: list[Event], *, error: str | None) -> dict[str, Any]:
        nxt = self.current
        observations: dict[str, str] = {}
        for e in events:
            for w in sorted(e.witnesses):
                observations[w] = (observations.get(w, "") + "\n" + e.text).strip()
        return make_info(
            admissible_actions=None if self.done else self.admissible_actions(nxt),
            events=list(events),
            score=1.0 if self.won else 0.0,
            max_score=1.0 if self.stage.goal is not None else None,
            won=self.won,
            lost=False,
            gold_plan=list(self.stage.gold_plan) if self.stage.gold_plan else None,
            error=error,
            turn=nxt,
            step=self.t,
            observations=observations,
        )

    def _coerce(self, action: Any) -> A.StageAction:
        if isinstance(action, str):
            return A.parse_action(action, speakers=self._speakers)
        if isinstance(action, A.StageAction):
            return action
        raise A.ActionParseError(
            f"an action must be a text command or a theatre action object, not {type(action).__name__}"
        )

    def _actor(self, act: A.StageAction) -> str:
        if act.actor is None:
            return self.current
        cid = self._char(act.actor)
        if self.stage.turns == "round_robin" and cid != self.current:
            raise IllegalAction(
                f"It is {self.stage.characters[self.current].name}'s turn, not {self.stage.characters[cid].name}'s."
            )
        return cid

    def _char(self, name: str) -> str:
        key = name.strip().lower()
        for cid, ch in self.stage.characters.items():
            if key in (cid, ch.name.lower()):
                return cid
        raise IllegalAction(f"There is no character called {name!r}.")

    def _reachable(self, cid: str) -> list[str]:
        lid = self.char_loc[cid]
        doors = {ex.door for ex in self.stage.locations[lid].exits.values() if ex.door}
        return [
            p
            for p in self.stage.props
            if self.prop_holder[p] == cid or self.prop_loc[p] == lid or p in doors
        ]

    def _prop(self, cid: str, name: str) -> str:
        key = name.strip().lower().removeprefix("the ").strip()
        for pid in self._reachable(cid):
            if key in (pid, self.stage.props[pid].name.lower()):
                return pid
        raise IllegalAction(f"You see no {name.strip()!r} here.")

    def _prop_label(self, pid: str) -> str:
        prop = self.stage.props[pid]
        if prop.openable:
            return f"{prop.name} ({'open' if self.prop_states[pid].get('open') else 'closed'})"
        return prop.name

    def _witnesses(self, actor: str, place: str) -> set[str]:
        present = {c for c, where in self.char_loc.items() if where == place}
        listeners = {
            c
            for c, ch in self.stage.characters.items()
            if (rel := ch.relationships.get(actor)) and rel.listens
        }
        return present | listeners | {actor}

    def _ev(
        self,
        actor: str,
        kind: str,
        text: str,
        witnesses: set[str],
        place: str | None = None,
        **data: Any,
    ) -> Event:
        return self._new_event(
            step=self.t,
            place=place or self.char_loc[actor],
            actor=actor,
            kind=kind,
            text=text,
            witnesses=frozenset(witnesses),
            **data,
        )

    def _affordance_ok(self, cid: str, pid: str, aff: Any, *, as_known: bool = False) -> str | None:
        """Why ``cid`` cannot use the affordance now, or ``None``.

        ``as_known``: judge hidden states (``_``-prefixed) by what ``cid`` has witnessed
        (:meth:`_known_state`), not by what they are: a command list must not tell a
        character that someone else, unseen, already poisoned the cup.
        """
        if aff.held and self.prop_holder[pid] != cid:
            return f"You must hold the {self.stage.props[pid].name} first."
        for key, want in aff.requires.items():
            if as_known and key.startswith("_"):
                have = self._known_state(cid, pid, key)
            else:
                have = self.prop_states[pid].get(key)
            if have != want:
                return f"The {self.stage.props[pid].name} is not {key.lstrip('_')}={want} (it is {have!r})."
        return None

    def _known_state(self, cid: str, pid: str, key: str) -> Any:
        """The value of a prop's hidden state as ``cid`` knows it: set by the last event
        they witnessed that set it, else the stage's starting value."""
        for event in reversed(self.log):
            sets = event.data.get("sets")
            if sets and key in sets and event.data.get("prop") == pid and cid in event.witnesses:
                return sets[key]
        return self.stage.props[pid].states.get(key)

    def _goal_met(self) -> bool:
        assert self.stage.goal is not None
        for pid, conds in self.stage.goal.props.items():
            for key, want in conds.items():
                have = {"holder": self.prop_holder[pid], "location": self.prop_loc[pid]}.get(
                    key, self.prop_states[pid].get(key)
                )
                if have != want:
                    return False
        return True

    def _apply(self, cid: str, act: A.StageAction) -> tuple[str, list[Event]]:
        return resolve(self, cid, act)
