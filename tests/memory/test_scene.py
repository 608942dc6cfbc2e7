"""SceneGraph: placement, holding, relationships, and a lossless round trip."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dramaturg.memory import SceneGraph, SceneGraphError


@pytest.fixture
def stage() -> SceneGraph:
    g = SceneGraph()
    for place in ("hall", "chapel", "garden"):
        g.add_place(place)
    g.connect("hall", "chapel")
    g.connect("hall", "garden", both_ways=False)
    g.add_agent("hamlet", place="hall")
    g.add_agent("ophelia", place="garden")
    g.add_agent("laertes", place="hall")
    g.add_prop("letter", place="garden", sealed=True)
    return g


def test_who_is_where_and_exits(stage):
    assert stage.present_at("hall") == ["hamlet", "laertes"]
    assert stage.where("ophelia") == "garden"
    assert stage.exits("hall") == ["chapel", "garden"] and stage.exits("garden") == []
    stage.move("hamlet", "chapel")
    assert stage.present_at("hall") == ["laertes"] and stage.present_at("chapel") == ["hamlet"]


def test_holding_moves_props_with_their_holder(stage):
    stage.give("ophelia", "letter")
    assert stage.holder("letter") == "ophelia" and stage.props_at("garden") == []
    stage.move("ophelia", "hall")
    assert stage.where("letter") == "hall"
    stage.give("hamlet", "letter")  # handed over
    assert stage.holdings("ophelia") == [] and stage.holdings("hamlet") == ["letter"]
    stage.drop("hamlet", "letter")
    assert stage.holder("letter") is None and stage.props_at("hall") == ["letter"]
    with pytest.raises(SceneGraphError, match="does not hold"):
        stage.drop("hamlet", "letter")
    stage.set("letter", sealed=False)
    assert stage.attrs("letter") == {"sealed": False}


def test_relationships(stage):
    stage.relate("ophelia", "laertes", "kin")
    stage.relate("hamlet", "laertes", "rival")
    stage.relate("hamlet", "ophelia", "listener")
    assert stage.relations("laertes") == [("hamlet", "rival"), ("ophelia", "kin")]
    assert stage.relations("ophelia") == [("laertes", "kin")]  # listener is one-way
    assert stage.related("hamlet") == ["laertes", "ophelia"]
    stage.unrelate("hamlet", "laertes", "rival")
    assert stage.relations("laertes", "rival") == []
    with pytest.raises(SceneGraphError, match="unknown relation"):
        stage.relate("hamlet", "ophelia", "enemy")  # type: ignore[arg-type]


def test_mistakes_raise_scene_graph_errors(stage):
    with pytest.raises(SceneGraphError, match="not in the scene"):
        stage.move("yorick", "hall")
    with pytest.raises(SceneGraphError, match="is a place"):
        stage.move("hall", "chapel")
    with pytest.raises(SceneGraphError, match="not a place"):
        stage.move("hamlet", "ophelia")
    with pytest.raises(SceneGraphError, match="already a agent"):
        stage.add_prop("hamlet")


def test_round_trip(stage):
    stage.give("laertes", "letter")
    stage.relate("hamlet", "laertes", "rival", since="act 5")
    data = json.loads(json.dumps(stage.to_dict()))
    back = SceneGraph.from_dict(data)
    assert back == stage and back.to_dict() == stage.to_dict()
    assert back.holder("letter") == "laertes" and back.relations("hamlet") == [("laertes", "rival")]
    assert SceneGraph.from_json(stage.to_json()) == stage
    with pytest.raises(SceneGraphError, match="not a scene graph"):
        SceneGraph.from_dict({"nodes": []})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["move", "give", "drop", "relate"]),
            st.integers(0, 3),
            st.integers(0, 3),
        ),
        max_size=30,
    )
)
def test_invariants_hold_after_random_changes(ops):
    g = SceneGraph()
    places, agents, props = (
        ["p0", "p1", "p2", "p3"],
        ["a0", "a1", "a2", "a3"],
        ["x0", "x1", "x2", "x3"],
    )
    for p in places:
        g.add_place(p)
    for i, a in enumerate(agents):
        g.add_agent(a, place=places[i])
    for i, x in enumerate(props):
        g.add_prop(x, place=places[i])
    for op, i, j in ops:
        if op == "move":
            g.move(agents[i], places[j])
        elif op == "give":
            g.give(agents[i], props[j])
        elif op == "drop" and g.holder(props[j]) == agents[i]:
            g.drop(agents[i], props[j])
        elif op == "relate":
            g.relate(agents[i], agents[j], "ally")
    for x in props:
        # A prop is either held (by one agent) or lying at exactly one place.
        holders = [a for a in agents if x in g.holdings(a)]
        lying = [p for p in places if x in g.props_at(p)]
        assert len(holders) + len(lying) == 1
        assert g.where(x) == (g.where(holders[0]) if holders else lying[0])
    assert sorted(a for p in places for a in g.present_at(p)) == agents
    assert SceneGraph.from_dict(g.to_dict()) == g
