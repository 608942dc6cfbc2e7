"""The drama graph, driven by ScriptedModels: a two-scene play with a player."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from dramaturg.agents import ToolAgent
from dramaturg.drama.actor import Actor
from dramaturg.drama.blueprint import Blueprint
from dramaturg.drama.director import Director
from dramaturg.drama.graph import MAX_PLAYER_INPUT, check_player_input, drama
from dramaturg.drama.metrics import drama_metrics
from dramaturg.errors import ConfigError
from dramaturg.models import ScriptedModel
from dramaturg.worlds.theatre import load_stage

SECRET = "Claudius poured poison in the old king's ear"


def two_scenes() -> Blueprint:
    data = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore").model_dump()
    data["cast"]["claudius"]["secrets"] = [
        {"id": "murder", "text": SECRET, "known_by": ["claudius"]}
    ]
    data["scenes"] = [
        {
            "id": "s1",
            "title": "The hall",
            "place": "hall",
            "cast": ["hamlet", "claudius"],
            "beats": [
                {"id": "b1", "text": "Hamlet faces the king"},
                {"id": "b2", "text": "The king hides his guilt"},
            ],
        },
        {
            "id": "s2",
            "title": "The garden",
            "place": "garden",
            "cast": ["hamlet", "ophelia"],
            "beats": [{"id": "b1", "text": "Hamlet gives Ophelia the letter"}],
        },
    ]
    return Blueprint.model_validate(data)


def decision(kind, *, line=None, to=None, intent=None, thought="..."):
    return {"thought": thought, "kind": kind, "to": to, "line": line, "intent": intent}


def pick(actor, beat=None):
    return {"actor": actor, "beat": beat}


def reflection(done=(), edit=None, add=None, end_scene=False):
    return {"done": list(done), "edit": edit, "add": add, "end_scene": end_scene}


@pytest.fixture
def models():
    actor = ScriptedModel(
        [
            decision(
                "speak",
                to="hamlet",
                line="Welcome, my son.",
                thought=f"He must never learn: {SECRET}.",
            ),
            decision("act", intent="open the heavy door"),
            decision("silent"),
            decision("move", intent="walk back to the hall"),
        ]
    )
    tool = ScriptedModel(
        [{"command": "take cup"}, {"command": "open door"}, {"command": "move south"}]
    )
    director = ScriptedModel(
        [
            pick("claudius", "b1"),
            pick("hamlet", "b1"),
            reflection(
                done=["b1"], edit={"id": "b2", "text": "The king hides his guilt behind a smile"}
            ),
            pick("claudius", "b2"),
            pick("hamlet", "b2"),
            reflection(
                done=["b2"], edit={"id": "b1", "text": "rewritten history"}
            ),  # b1 is finished: refused
            # scene 2
            pick("ophelia", "b1"),
            pick("hamlet", "b1"),
            reflection(),
            pick("ophelia", "b1"),
            pick("hamlet", "b1"),
            reflection(done=["b1"], end_scene=True),
        ]
    )
    return actor, tool, director


async def test_a_scripted_play_runs_every_part_of_the_drama(models):
    actor_m, tool_m, director_m = models
    bp = two_scenes()
    graph = drama(
        bp,
        actor=Actor(model=actor_m),
        director=Director(model=director_m),
        tool_agent=ToolAgent(model=tool_m),
        player="hamlet",
        reflect_every=2,
        max_scene_steps=8,
        checkpointer=InMemorySaver(),
    )
    cfg = {"configurable": {"thread_id": "t"}}

    async def turn(answer=None):
        out = await graph.ainvoke(Command(resume=answer) if answer is not None else {}, cfg)
        return out, (out.get("__interrupt__") or [None])[0]

    state, waiting = await turn()
    assert waiting.value["character"] == "hamlet" and "Claudius" in waiting.value["surroundings"]
    assert any("Welcome, my son." in p for p in waiting.value["perceived"])

    for bad, says in [
        ("", "Nothing was typed"),
        ("x" * (MAX_PLAYER_INPUT + 1), "characters"),
        ("\x00\x01binary", "control or binary"),
        ("take crown", "cannot be done"),
    ]:
        before = (await graph.aget_state(cfg)).values
        state, waiting = await turn(bad)
        assert says in waiting.value["notice"], bad
        after = state
        assert (
            after["world"] == before["world"] and after["transcript"] == before["transcript"]
        )  # nothing changed

    state, waiting = await turn(
        "grab the silver cup quickly"
    )  # not a stage verb: the tool agent maps it
    mine = [t for t in state["transcript"] if t.get("actor") == "hamlet"]
    assert mine[-1]["command"] == "take cup" and mine[-1]["input"] == "grab the silver cup quickly"
    assert [t for t in state["transcript"] if t.get("error")] == []
    state, waiting = await turn('"I know what you did."')
    # scene 1 is over, scene 2 waits for Hamlet after Ophelia's silence
    state, waiting = await turn("give letter to ophelia")
    state, waiting = await turn('"Farewell."')
    assert waiting is None and state["ended"]

    for m in (actor_m, tool_m, director_m):
        m.assert_consumed()
    turns = [t for t in state["transcript"] if t["kind"] == "turn"]
    assert {t["action"] for t in turns if t["by"] == "agent"} == {"speak", "act", "move", "silent"}
    assert [t["actor"] for t in turns] == [
        "claudius",
        "hamlet",
        "claudius",
        "hamlet",
        "ophelia",
        "hamlet",
        "ophelia",
        "hamlet",
    ]
    kinds = [t["kind"] for t in state["transcript"]]
    assert kinds.count("scene") == 2 and kinds.count("scene_end") == 2 and kinds[-1] == "end"

    ops = state["reflections"]
    assert {
        "op": "edit",
        "beat": "b2",
        "from": "The king hides his guilt",
        "to": "The king hides his guilt behind a smile",
        "step": 2,
        "scene": 0,
    } in ops
    refused = [o for o in ops if o.get("refused")]
    assert refused and refused[0]["beat"] == "b1" and "never changes" in refused[0]["refused"]
    scene_one = next(t for t in state["transcript"] if t["kind"] == "scene_end" and t["scene"] == 0)
    assert [b["text"] for b in scene_one["beats"]] == [
        "Hamlet faces the king",
        "The king hides his guilt behind a smile",
    ]

    # Thoughts stay private: the secret in Claudius's thought reached nobody's perception.
    assert all(SECRET not in e["text"] for t in turns for e in t.get("events", ()))
    # The world's prop state follows the actions: Hamlet took the cup, Claudius opened the door.
    assert state["world"] is None  # closed with the last scene
    m = drama_metrics(
        state["transcript"],
        bp,
        model_calls=len(actor_m.calls) + len(tool_m.calls) + len(director_m.calls),
    )
    assert m.beats_planned == 3 and m.beat_completion == 1.0
    assert (
        m.knowledge_leaks == 0 and m.steps == 8 and m.model_calls_per_step == pytest.approx(19 / 8)
    )


async def test_the_player_sees_only_what_their_character_witnessed(models):
    actor_m, tool_m, director_m = models
    graph = drama(
        two_scenes(),
        actor=Actor(model=actor_m),
        director=Director(model=director_m),
        tool_agent=ToolAgent(model=tool_m),
        player="hamlet",
        reflect_every=2,
        checkpointer=InMemorySaver(),
    )
    out = await graph.ainvoke({}, {"configurable": {"thread_id": "x"}})
    prompt = out["__interrupt__"][0].value
    assert "thought" not in str(prompt) and SECRET not in str(prompt)


async def test_auto_mode_and_max_turns_end_the_play():
    actor = ScriptedModel([decision("speak", line=f"line {i}") for i in range(3)])
    director = ScriptedModel([pick("claudius"), pick("hamlet"), pick("claudius")])
    graph = drama(
        two_scenes(),
        actor=Actor(model=actor),
        director=Director(model=director),
        tool_agent=ToolAgent(model=ScriptedModel([])),
        player=None,
        max_turns=3,
        reflect_every=10,
    )
    final = await graph.ainvoke({})
    assert final["ended"] and final["step"] == 3
    actor.assert_consumed()


async def test_ensemble_mode_decides_for_every_npc_in_one_call():
    answer = {
        "hamlet": decision("speak", line="A little more than kin."),
        "claudius": decision("speak", line="To the feast!"),
    }
    ensemble = ScriptedModel([answer])
    director = ScriptedModel([pick("claudius")])
    graph = drama(
        two_scenes(),
        actor=Actor(model=ensemble),
        director=Director(model=director),
        tool_agent=ToolAgent(model=ScriptedModel([])),
        player=None,
        mode="ensemble",
        max_turns=2,
        reflect_every=10,
    )
    final = await graph.ainvoke({})
    turns = [t for t in final["transcript"] if t["kind"] == "turn"]
    assert [t["actor"] for t in turns] == ["hamlet", "claudius"] and len(ensemble.calls) == 1
    schema = ensemble.calls[0].opts["json_schema"]
    assert schema["required"] == [
        "hamlet",
        "claudius",
    ]  # every character exactly once, by the grammar


async def test_a_failing_model_is_a_silent_turn_not_a_crash():
    from dramaturg.errors import ModelOutputError

    actor = ScriptedModel([ModelOutputError("garbage"), decision("speak", line="Well.")])
    director = ScriptedModel([ModelOutputError("garbage"), pick("hamlet")])
    graph = drama(
        two_scenes(),
        actor=Actor(model=actor),
        director=Director(model=director),
        tool_agent=ToolAgent(model=ScriptedModel([])),
        max_turns=2,
        reflect_every=10,
    )
    final = await graph.ainvoke({})
    turns = [t for t in final["transcript"] if t["kind"] == "turn"]
    assert "no decision" in turns[0]["error"] and turns[1]["line"] == "Well."
    assert any("round-robin" in r.get("refused", "") for r in final["reflections"])


def test_player_input_checks():
    assert check_player_input("  open   door ") == "open door"
    for bad in ["", "   ", b"\x89PNG", "a\x07b", "y" * (MAX_PLAYER_INPUT + 1), None, 42]:
        with pytest.raises(ValueError):
            check_player_input(bad)


def test_an_unknown_player_is_a_config_error():
    with pytest.raises(ConfigError, match="no character"):
        drama(
            two_scenes(),
            actor=Actor(model=ScriptedModel([])),
            director=Director(model=None),
            tool_agent=ToolAgent(model=ScriptedModel([])),
            player="yorick",
        )


async def test_from_topic_to_curtain_blueprint_yaml_and_play(tmp_path):
    from dramaturg.drama.design import design_blueprint
    from tests.drama.test_blueprint import TOPIC, draft, keep_order, ok, reject

    designer = ScriptedModel(
        [
            *draft(),
            reject("Give Ophelia a reason to be in the garden."),
            *draft(),
            ok(),
            keep_order(),
        ]
    )
    bp = await design_blueprint(TOPIC, model=designer, scenes=2)
    assert bp.revisions == 1 and "reason to be in the garden" in designer.calls[4].prompt
    bp = Blueprint.load(bp.save(tmp_path / "play.yaml"))  # edited by hand, in real life
    speak = decision("speak", line="Who goes there?")
    actor = ScriptedModel([speak] * 4)
    director = ScriptedModel(
        [
            pick("hamlet"),
            pick("ophelia"),
            reflection(done=["b1", "b2"]),
            pick("hamlet"),
            pick("ophelia"),
            reflection(done=["b1"]),
        ]
    )
    final = await drama(
        bp,
        actor=Actor(model=actor),
        director=Director(model=director),
        tool_agent=ToolAgent(model=ScriptedModel([])),
        reflect_every=2,
    ).ainvoke({})
    assert final["ended"] and [t["title"] for t in final["transcript"] if t["kind"] == "scene"] == [
        "Midnight",
        "The Garden",
    ]
    assert drama_metrics(final["transcript"], bp).beat_completion == 1.0
    for m in (designer, actor, director):
        m.assert_consumed()
