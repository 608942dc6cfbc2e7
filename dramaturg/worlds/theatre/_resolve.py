"""How each theatre action changes the stage and who witnesses it, or why it is not allowed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dramaturg.worlds.base import Event
from dramaturg.worlds.theatre import actions as A

if TYPE_CHECKING:
    from dramaturg.worlds.theatre.world import TheatreWorld

__all__ = ["IllegalAction", "resolve"]


class IllegalAction(Exception):
    """Raised inside the world when an action is not allowed; becomes an observation."""


def resolve(w: TheatreWorld, cid: str, act: A.StageAction) -> tuple[str, list[Event]]:
    """Apply ``act`` for character ``cid``; raise ``IllegalAction`` with the reason if not allowed."""
    st = w.stage
    me = st.characters[cid].name
    here = w.char_loc[cid]

    if isinstance(act, A.Say):
        if act.mode == "aside":
            ev = w._ev(cid, "aside", f'{me} (aside): "{act.text}"', {cid}, line=act.text)
            return f'You say aside: "{act.text}"', [ev]
        to = w._char(act.to) if act.to else None
        if to == cid:
            raise IllegalAction("You cannot address yourself; use aside.")
        if to is not None and w.char_loc[to] != here:
            raise IllegalAction(f"{st.characters[to].name} is not here.")
        if act.mode == "whisper":
            text = f'{me} whispers to {st.characters[to].name}: "{act.text}"'  # type: ignore[index]
            ev = w._ev(cid, "whisper", text, {cid, to}, line=act.text, to=to)  # type: ignore[arg-type]
            return f'You whisper to {st.characters[to].name}: "{act.text}"', [ev]  # type: ignore[index]
        text = (
            f'{me} says to {st.characters[to].name}: "{act.text}"'
            if to
            else f'{me} says: "{act.text}"'
        )
        ev = w._ev(cid, "say", text, w._witnesses(cid, here), line=act.text, to=to)
        return "You said it.", [ev]

    if isinstance(act, A.Move):
        key = act.to.strip().lower()
        exits = st.locations[here].exits
        chosen = None
        for d, ex in exits.items():
            if key in (d, ex.to, st.locations[ex.to].name.lower()):
                chosen = (d, ex)
                break
        if chosen is None:
            raise IllegalAction(
                f"You cannot go {act.to!r} from here. Exits: {', '.join(exits) or 'none'}."
            )
        d, ex = chosen
        if ex.door and not w.prop_states[ex.door].get("open"):
            raise IllegalAction(f"The {st.props[ex.door].name} is closed.")
        dest = st.locations[ex.to]
        left = w._ev(
            cid, "leave", f"{me} leaves {d}.", w._witnesses(cid, here), place=here, to=ex.to
        )
        w.char_loc[cid] = ex.to
        came = w._ev(
            cid, "arrive", f"{me} arrives.", w._witnesses(cid, ex.to), place=ex.to, **{"from": here}
        )
        return f"You go to {dest.name}.\n" + w.describe(cid), [left, came]

    if isinstance(act, A.Take):
        pid = w._prop(cid, act.prop)
        prop = st.props[pid]
        if w.prop_holder[pid] == cid:
            raise IllegalAction(f"You already have the {prop.name}.")
        if (holder := w.prop_holder[pid]) is not None:
            raise IllegalAction(f"{st.characters[holder].name} has the {prop.name}.")
        if not prop.portable or w.prop_loc[pid] != here:
            raise IllegalAction(f"The {prop.name} cannot be taken.")
        w.prop_loc[pid], w.prop_holder[pid] = None, cid
        ev = w._ev(cid, "take", f"{me} takes the {prop.name}.", w._witnesses(cid, here), prop=pid)
        return f"You take the {prop.name}.", [ev]

    if isinstance(act, A.Give):
        pid = w._prop(cid, act.prop)
        to = w._char(act.to)
        prop = st.props[pid]
        if w.prop_holder[pid] != cid:
            raise IllegalAction(f"You do not have the {prop.name}.")
        if to == cid or w.char_loc[to] != here:
            raise IllegalAction(f"{st.characters[to].name} is not here to receive it.")
        w.prop_holder[pid] = to
        text = f"{me} gives the {prop.name} to {st.characters[to].name}."
        ev = w._ev(cid, "give", text, w._witnesses(cid, here) | {to}, prop=pid, to=to)
        return f"You give the {prop.name} to {st.characters[to].name}.", [ev]

    if isinstance(act, A.Open | A.Close):
        pid = w._prop(cid, act.prop)
        prop = st.props[pid]
        want = isinstance(act, A.Open)
        verb = "open" if want else "close"
        if not prop.openable:
            raise IllegalAction(f"The {prop.name} cannot be {verb}ed.")
        if bool(w.prop_states[pid].get("open")) == want:
            raise IllegalAction(f"The {prop.name} is already {'open' if want else 'closed'}.")
        if want and w.prop_states[pid].get("locked"):
            raise IllegalAction(f"The {prop.name} is locked.")
        w.prop_states[pid]["open"] = want
        ev = w._ev(cid, verb, f"{me} {verb}s the {prop.name}.", w._witnesses(cid, here), prop=pid)
        return f"You {verb} the {prop.name}.", [ev]

    if isinstance(act, A.Read):
        pid = w._prop(cid, act.prop)
        prop = st.props[pid]
        if prop.readable is None:
            raise IllegalAction(f"There is nothing to read on the {prop.name}.")
        if prop.openable and not w.prop_states[pid].get("open"):
            raise IllegalAction(f"The {prop.name} is closed; open it first.")
        public = w._ev(
            cid, "read", f"{me} reads the {prop.name}.", w._witnesses(cid, here), prop=pid
        )
        secret = w._ev(cid, "read_text", f"The {prop.name} reads: {prop.readable}", {cid}, prop=pid)
        return f"The {prop.name} reads: {prop.readable}", [public, secret]

    if isinstance(act, A.Use | A.Custom):
        verb = "use" if isinstance(act, A.Use) else act.verb.lower()
        try:
            pid = w._prop(cid, act.prop)
        except IllegalAction:
            if isinstance(act, A.Custom):
                raise IllegalAction(f"I don't know how to {verb} {act.prop!r}. {A._HELP}") from None
            raise
        prop = st.props[pid]
        aff = prop.affordances.get(verb)
        if aff is None:
            raise IllegalAction(f"You cannot {verb} the {prop.name}.")
        # Judged by what the actor knows: a hidden state changed out of their sight (the cup
        # poisoned while they looked away) does not stop them, or the refusal would tell
        # them the secret. They pour the vial; the cup stays poisoned.
        why = w._affordance_ok(cid, pid, aff, as_known=True)
        if why:
            raise IllegalAction(why)
        w.prop_states[pid].update(aff.sets)
        text = aff.text.format(actor=me, prop=prop.name)
        ev = w._ev(
            cid,
            verb,
            text,
            {cid} if aff.secret else w._witnesses(cid, here),
            prop=pid,
            sets=dict(aff.sets),
        )
        return text, [ev]

    if isinstance(act, A.Examine):
        key = act.target.strip().lower()
        for oid, ch in st.characters.items():
            if key in (oid, ch.name.lower()) and w.char_loc[oid] == here:
                held = [st.props[p].name for p, h in w.prop_holder.items() if h == oid]
                return (
                    f"{ch.name}. {ch.description} Carrying: {', '.join(held) or 'nothing'}.".strip(),
                    [],
                )
        pid = w._prop(cid, act.target)
        prop = st.props[pid]
        states = ", ".join(
            f"{k}: {v}" for k, v in w.prop_states[pid].items() if not k.startswith("_")
        )
        # States with a leading underscore are hidden (a poisoned cup looks like any cup).
        return f"{prop.name}. {prop.description}" + (f" ({states})" if states else ""), []

    if isinstance(act, A.Look):
        return w.describe(cid), []
    if isinstance(act, A.Inventory):
        held = [st.props[p].name for p, h in w.prop_holder.items() if h == cid]
        return "You carry: " + (", ".join(held) or "nothing") + ".", []
    if isinstance(act, A.Wait):
        return "You wait.", []
    raise IllegalAction(f"unsupported action {act!r}")
