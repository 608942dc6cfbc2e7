"""`SceneGraph`: who is where, who holds what, and who is what to whom.

A networkx ``MultiDiGraph`` with three kinds of node (``agent``, ``place``,
``prop``) and typed edges:

* ``at``: agent or prop -> place (each has at most one place);
* ``holds``: agent -> prop (a prop has at most one holder, and is wherever
  its holder is);
* ``exit``: place -> place;
* relationships: agent -> agent, one of ``kin``, ``ally``, ``rival``,
  ``listener`` (``kin`` and ``ally`` and ``rival`` are symmetric).

It round-trips through :meth:`to_dict` / :meth:`from_dict` (plain JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import networkx as nx

from dramaturg.memory.errors import SceneGraphError

__all__ = ["RELATIONS", "NodeKind", "Relation", "SceneGraph"]

NodeKind = Literal["agent", "place", "prop"]
Relation = Literal["kin", "ally", "rival", "listener"]
RELATIONS: tuple[str, ...] = ("kin", "ally", "rival", "listener")
_SYMMETRIC = {"kin", "ally", "rival"}
_FORMAT = "dramaturg-scene/1"


class SceneGraph:
    """The state of a scene as a graph.

    Example:
        >>> g = SceneGraph()
        >>> g.add_place("hall"); g.add_agent("hamlet", place="hall"); g.add_prop("skull", place="hall")
        >>> g.give("hamlet", "skull")
        >>> g.holder("skull"), g.where("skull")
        ('hamlet', 'hall')
        >>> g.add_agent("horatio", place="hall"); g.relate("hamlet", "horatio", "ally")
        >>> g.present_at("hall"), g.related("horatio")
        (['hamlet', 'horatio'], ['hamlet'])
    """

    def __init__(self) -> None:
        self.g = nx.MultiDiGraph()

    # -- nodes ------------------------------------------------------------
    def _add(self, name: str, kind: NodeKind, attrs: Mapping[str, Any]) -> None:
        if name in self.g and self.g.nodes[name]["kind"] != kind:
            raise SceneGraphError(
                f"{name!r} is already a {self.g.nodes[name]['kind']}, cannot also be a {kind}"
            )
        self.g.add_node(name, kind=kind, **attrs)

    def add_place(self, name: str, **attrs: Any) -> None:
        """Add (or update) a place."""
        self._add(name, "place", attrs)

    def add_agent(self, name: str, *, place: str | None = None, **attrs: Any) -> None:
        """Add (or update) an agent, optionally at ``place``."""
        self._add(name, "agent", attrs)
        if place is not None:
            self.move(name, place)

    def add_prop(self, name: str, *, place: str | None = None, **attrs: Any) -> None:
        """Add (or update) a prop, optionally at ``place``; ``attrs`` is its state."""
        self._add(name, "prop", attrs)
        if place is not None:
            self.move(name, place)

    def remove(self, name: str) -> None:
        self._need(name)
        self.g.remove_node(name)

    def kind(self, name: str) -> NodeKind:
        return self._need(name)["kind"]

    def attrs(self, name: str) -> dict[str, Any]:
        """A node's attributes (its state), without ``kind``."""
        return {k: v for k, v in self._need(name).items() if k != "kind"}

    def set(self, name: str, **attrs: Any) -> None:
        """Change a node's attributes (a prop's state: ``set("letter", opened=True)``)."""
        if "kind" in attrs:
            raise SceneGraphError("a node's kind cannot change")
        self._need(name).update(attrs)

    def nodes(self, kind: NodeKind | None = None) -> list[str]:
        return sorted(n for n, d in self.g.nodes(data=True) if kind is None or d["kind"] == kind)

    def __contains__(self, name: object) -> bool:
        return name in self.g

    def _need(self, name: str, kind: NodeKind | None = None) -> dict[str, Any]:
        if name not in self.g:
            raise SceneGraphError(
                f"{name!r} is not in the scene; add it first (add_agent/add_place/add_prop)"
            )
        data = self.g.nodes[name]
        if kind is not None and data["kind"] != kind:
            raise SceneGraphError(f"{name!r} is a {data['kind']}, not a {kind}")
        return data

    def _edges(self, u: str, key: str) -> list[str]:
        return [v for _, v, k in self.g.out_edges(u, keys=True) if k == key]

    # -- places -----------------------------------------------------------
    def connect(self, a: str, b: str, *, both_ways: bool = True) -> None:
        """An exit from place ``a`` to place ``b`` (and back, by default)."""
        self._need(a, "place"), self._need(b, "place")
        self.g.add_edge(a, b, key="exit")
        if both_ways:
            self.g.add_edge(b, a, key="exit")

    def exits(self, place: str) -> list[str]:
        self._need(place, "place")
        return sorted(self._edges(place, "exit"))

    def move(self, name: str, place: str) -> None:
        """Put an agent or prop at ``place`` (leaving wherever it was; a held prop is dropped)."""
        if self._need(name)["kind"] == "place":
            raise SceneGraphError(f"{name!r} is a place; places do not move")
        self._need(place, "place")
        for old in self._edges(name, "at"):
            self.g.remove_edge(name, old, key="at")
        holder = self.holder(name) if self.kind(name) == "prop" else None
        if holder is not None:
            self.g.remove_edge(holder, name, key="holds")
        self.g.add_edge(name, place, key="at")

    def where(self, name: str) -> str | None:
        """The place of an agent or prop (a held prop is where its holder is)."""
        self._need(name)
        holder = self.holder(name) if self.kind(name) == "prop" else None
        if holder is not None:
            return self.where(holder)
        at = self._edges(name, "at")
        return at[0] if at else None

    def present_at(self, place: str) -> list[str]:
        """The agents at ``place``: the natural witnesses of what happens there."""
        self._need(place, "place")
        return sorted(
            u
            for u, _, k in self.g.in_edges(place, keys=True)
            if k == "at" and self.kind(u) == "agent"
        )

    def props_at(self, place: str) -> list[str]:
        """Props lying at ``place`` (not those carried by agents there)."""
        self._need(place, "place")
        return sorted(
            u
            for u, _, k in self.g.in_edges(place, keys=True)
            if k == "at" and self.kind(u) == "prop"
        )

    # -- holding ----------------------------------------------------------
    def give(self, agent: str, prop: str) -> None:
        """``agent`` now holds ``prop`` (taking it from whoever held it or wherever it lay)."""
        self._need(agent, "agent"), self._need(prop, "prop")
        old = self.holder(prop)
        if old is not None:
            self.g.remove_edge(old, prop, key="holds")
        for place in self._edges(prop, "at"):
            self.g.remove_edge(prop, place, key="at")
        self.g.add_edge(agent, prop, key="holds")

    def drop(self, agent: str, prop: str) -> None:
        """``agent`` puts ``prop`` down where it stands."""
        if self.holder(prop) != agent:
            raise SceneGraphError(f"{agent!r} does not hold {prop!r}")
        place = self.where(agent)
        self.g.remove_edge(agent, prop, key="holds")
        if place is not None:
            self.g.add_edge(prop, place, key="at")

    def holder(self, prop: str) -> str | None:
        self._need(prop, "prop")
        held = [u for u, _, k in self.g.in_edges(prop, keys=True) if k == "holds"]
        return held[0] if held else None

    def holdings(self, agent: str) -> list[str]:
        self._need(agent, "agent")
        return sorted(self._edges(agent, "holds"))

    # -- relationships ----------------------------------------------------
    def relate(self, a: str, b: str, relation: Relation, **attrs: Any) -> None:
        """Record that ``a`` is ``relation`` to ``b`` (both ways for kin/ally/rival)."""
        if relation not in RELATIONS:
            raise SceneGraphError(f"unknown relation {relation!r}; use one of {RELATIONS}")
        self._need(a, "agent"), self._need(b, "agent")
        self.g.add_edge(a, b, key=relation, **attrs)
        if relation in _SYMMETRIC:
            self.g.add_edge(b, a, key=relation, **attrs)

    def unrelate(self, a: str, b: str, relation: Relation) -> None:
        for u, v in ((a, b), (b, a)) if relation in _SYMMETRIC else ((a, b),):
            if self.g.has_edge(u, v, key=relation):
                self.g.remove_edge(u, v, key=relation)

    def relations(self, agent: str, relation: Relation | None = None) -> list[tuple[str, str]]:
        """``(other, relation)`` pairs going out of ``agent``, sorted."""
        self._need(agent, "agent")
        wanted = (relation,) if relation else RELATIONS
        return sorted((v, k) for _, v, k in self.g.out_edges(agent, keys=True) if k in wanted)

    def related(self, agent: str, relations: Iterable[Relation] = RELATIONS) -> list[str]:
        """Agents ``agent`` has any of ``relations`` with (the theatre's "related actors")."""
        wanted = set(relations)
        return sorted({v for v, k in self.relations(agent) if k in wanted})

    # -- serialisation ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready data; nodes and edges sorted so equal scenes give equal dicts."""
        nodes = [{"name": n, **d} for n, d in sorted(self.g.nodes(data=True))]
        edges = sorted(
            (
                {"from": u, "to": v, "type": k, **d}
                for u, v, k, d in self.g.edges(keys=True, data=True)
            ),
            key=lambda e: (e["from"], e["to"], e["type"]),
        )
        return {"format": _FORMAT, "nodes": nodes, "edges": edges}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SceneGraph:
        if data.get("format") != _FORMAT:
            raise SceneGraphError(
                f"not a scene graph (format {data.get('format')!r}, expected {_FORMAT!r})"
            )
        g = cls()
        for node in data["nodes"]:
            attrs = dict(node)
            g.g.add_node(attrs.pop("name"), **attrs)
        for edge in data["edges"]:
            attrs = dict(edge)
            g.g.add_edge(attrs.pop("from"), attrs.pop("to"), key=attrs.pop("type"), **attrs)
        return g

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> SceneGraph:
        return cls.from_dict(json.loads(text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SceneGraph) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        counts = {k: len(self.nodes(k)) for k in ("agent", "place", "prop")}  # type: ignore[arg-type]
        return (
            f"<SceneGraph agents={counts['agent']} places={counts['place']} props={counts['prop']}>"
        )
