"""Actors on a base model: the scene as a script, the speaker and the stage actions chosen in code."""

from __future__ import annotations

import itertools
import re
import time

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from dramaturg.agents import ToolAgent
from dramaturg.drama import Blueprint, drama
from dramaturg.drama._bundled import resolve_play
from dramaturg.drama._copies import copied
from dramaturg.drama.actor import Actor
from dramaturg.drama.graph import actor_for, director_for
from dramaturg.drama.script import (
    ScriptActor,
    beat_action,
    beat_subject,
    clean_line,
    overlap,
    pick_speaker,
)
from dramaturg.errors import ModelError
from dramaturg.models import ScriptedModel, model_kind
from dramaturg.models.wrappers import wrap

NAMES = {"hamlet": "Hamlet", "claudius": "Claudius", "horatio": "Horatio"}


def elsinore() -> Blueprint:
    return Blueprint.load(resolve_play(__import__("pathlib").Path("elsinore")))


def lines_model(lines, *, kind="base"):
    """A base ScriptedModel that answers each raw call with the next of ``lines``, checking the call."""

    def answer(text):
        def reply(msgs, opts):
            assert opts["raw"] is True and opts["stop"] == ["\n"], opts
            return text

        return reply

    return ScriptedModel([answer(t) for t in lines], kind=kind)


# ---------------------------------------------------------------- the pieces


def test_clean_line_keeps_one_spoken_line():
    names = ["Hamlet", "Horatio"]
    assert clean_line(' "Who is there?" [He draws.]\nHORATIO. Friends.', names) == "Who is there?"
    assert clean_line("HAMLET. I know not seems. HORATIO. My lord!", names) == "I know not seems."
    assert clean_line("One. Two. Three. Four.", names) == "One. Two. Three."
    assert clean_line("", names) == ""
    assert (
        clean_line("Hello \x1b[2J there, \u200bfriend.", names) == "Hello there, friend."
    )  # no escapes


def test_overlap_is_the_share_of_the_new_lines_words():
    assert overlap("my son my son", "Yes, my son.") == 1.0
    assert overlap("The king is dead", "Long live the queen") == 0.0  # content words: king, dead
    assert overlap("You are a very curious one.", "You are not my mistress.") == 0.0
    assert (
        overlap("I am not kin.", "I am not a child.") == 0.75
    )  # one content word: all words count
    assert overlap("", "anything") == 1.0


def test_the_speaker_is_never_the_last_one_and_answers_who_was_named():
    here = ["hamlet", "claudius", "horatio"]
    assert (
        pick_speaker(here, names=NAMES, last="claudius", last_text="Speak, Horatio!") == "horatio"
    )
    assert pick_speaker(here, names=NAMES, last="hamlet", last_text="Hamlet, my son.") != "hamlet"
    # The live beat names Claudius, who has not acted on it yet.
    assert (
        pick_speaker(here, names=NAMES, last="hamlet", beat="Claudius offers Hamlet the cup")
        == "claudius"
    )
    assert (
        pick_speaker(
            here,
            names=NAMES,
            last="hamlet",
            beat="Claudius offers Hamlet the cup",
            beat_spoken=["claudius"],
            history=["horatio", "claudius", "hamlet"],
        )
        == "horatio"
    )
    # Otherwise whoever spoke least recently.
    assert (
        pick_speaker(here, names=NAMES, last="horatio", history=["hamlet", "claudius", "horatio"])
        == "hamlet"
    )
    assert pick_speaker(["hamlet"], names=NAMES, last="hamlet") == "hamlet"  # alone on stage
    assert pick_speaker([], names=NAMES, last=None) is None


def test_a_beat_is_about_the_first_character_it_names():
    assert beat_subject("Claudius offers Hamlet the cup", NAMES, list(NAMES)) == "claudius"
    assert beat_subject("Hamlet gives Ophelia his letter", NAMES, ["ophelia", "hamlet"]) == "hamlet"
    assert beat_subject("The night falls", NAMES, list(NAMES)) is None


def test_a_beat_is_played_by_the_action_on_the_prop_it_names():
    admissible = [
        "look",
        "wait",
        'say "<line>"',
        "examine cup",
        "take cup",
        "poison cup",
        "give letter to claudius",
        "move north",
    ]
    assert (
        beat_action(admissible, "Claudius offers Hamlet the cup of wine", names=NAMES) == "take cup"
    )
    # A character's name is not a prop: "give letter to claudius" does not play "Claudius greets Hamlet".
    assert beat_action(admissible, "Claudius greets Hamlet as a son", names=NAMES) is None
    assert (
        beat_action(admissible, "Claudius poisons the cup", names=NAMES, done=["take cup"])
        == "poison cup"
    )
    assert beat_action(admissible, None, names=NAMES) is None


async def test_a_line_that_repeats_one_just_said_is_sampled_again_with_its_own_seed():
    model = lines_model(
        ["Welcome home, my dear son.", "HAMLET. The air bites shrewdly tonight.\nCLAUDIUS. x"]
    )
    actor = ScriptActor(model=model, seed=7)
    out = await actor.line(
        "SCENE 1.\n",
        "HAMLET",
        names=["Hamlet", "Claudius"],
        recent=["Welcome home, my son."],
        key=3,
    )
    assert out.text == "The air bites shrewdly tonight." and out.tries == 2
    assert out.rejected[0].startswith("overlap")
    seeds = [c.opts["seed"] for c in model.calls]
    assert len(set(seeds)) == 2 and all(
        c.messages[0]["content"].endswith("HAMLET.") for c in model.calls
    )


async def test_when_every_sample_is_bad_the_least_bad_line_is_kept_or_the_turn_fails():
    actor = ScriptActor(model=lines_model(["Yes.", "Aye, my lord.", "Aye.", "No."]), tries=4)
    out = await actor.line("", "HAMLET", names=["Hamlet"], recent=[])
    assert out.text == "Aye, my lord."  # short, but the longest and new
    actor = ScriptActor(model=lines_model(["", "", "", ""]), tries=4)
    with pytest.raises(ModelError, match="no usable line"):
        await actor.line("", "HAMLET", names=["Hamlet"], recent=[])


def test_roles_follow_the_models_kind():
    base, instruct = ScriptedModel(kind="base"), ScriptedModel()
    assert isinstance(actor_for(base), ScriptActor) and director_for(base).model is None
    assert isinstance(actor_for(instruct), Actor) and director_for(instruct).model is instruct
    assert model_kind(wrap(base)) == "base" and model_kind(wrap(instruct)) == "instruct"


# ---------------------------------------------------------------- the graph on a base model

SCENE_ONE = [
    "Your father lost a father; that father lost his.",  # claudius (greets: beat b1)
    "I shall in all my best obey you, madam.",  # hamlet
    "HORATIO. My lord, I came to see your father's funeral.",  # horatio (label stripped)
    "I pray thee, do not mock me, fellow student.",  # hamlet
    "Come, drink with me, and be merry for a night.",  # claudius (takes the cup: beat b3)
    "The king doth wake tonight and takes his rouse.",  # hamlet
]


async def test_a_base_model_plays_the_scene_as_a_script():
    model = lines_model(SCENE_ONE)
    graph = drama(
        elsinore(),
        actor=actor_for(model, seed=1),
        director=director_for(model),
        tool_agent=ToolAgent(model=model),
        max_turns=8,
    )
    final = await graph.ainvoke({}, {"recursion_limit": 200})
    turns = [t for t in final["transcript"] if t["kind"] == "turn"]
    assert len(turns) == 8
    # The authored opening lines come first, as written.
    assert [t["by"] for t in turns[:2]] == ["script", "script"]
    assert (
        turns[0]["public"]
        == 'Claudius says: "Come, Hamlet, my son. Cast off that black and sit beside your king."'
    )
    # Every turn is a spoken line or a visible stage direction; nobody "is silent"; no one speaks twice running.
    assert all(t["public"] and "silent" not in t["public"] for t in turns)
    assert all(a["actor"] != b["actor"] for a, b in itertools.pairwise(turns))
    assert turns[4]["line"] == "My lord, I came to see your father's funeral."
    # The cup beat is played as a stage action before the line.
    cup = [t for t in turns if t.get("beat_action")]
    assert (
        cup
        and cup[0]["actor"] == "claudius"
        and cup[0]["public"].startswith("Claudius takes the cup.")
    )
    # Each call continues the one script: the heading, the lines so far, the speaker's label.
    last = model.calls[-1].messages[0]["content"]
    assert last.startswith("ELSINORE, IN THREE SCENES\n") and "\nCHARACTERS\nHAMLET, " in last
    assert "CLAUDIUS. Come, Hamlet, my son." in last and "[Claudius takes the cup.]" in last
    assert last.endswith("\nHAMLET.")
    assert "poison" not in last.lower()  # no secrets in a script every character reads
    assert len({c.opts["seed"] for c in model.calls}) == len(model.calls)
    model.assert_consumed()  # one call per agent turn: the director and the tool agent made none


async def test_what_not_everyone_witnessed_stays_out_of_the_script():
    model = lines_model(
        ["Something is rotten in the state of Denmark.", "Then let us go together, friend."]
    )
    bp = elsinore()
    graph = drama(
        bp,
        actor=actor_for(model),
        director=director_for(model),
        tool_agent=ToolAgent(model=model),
        player="hamlet",
        checkpointer=InMemorySaver(),
        max_turns=5,
    )
    cfg = {"configurable": {"thread_id": "t"}, "recursion_limit": 200}
    await graph.ainvoke({}, cfg)
    await graph.ainvoke(Command(resume='whisper horatio "The king is a murderer."'), cfg)
    prompts = [c.messages[0]["content"] for c in model.calls]
    assert all("murderer" not in p for p in prompts)
    state = await graph.aget_state(cfg)
    assert any("murderer" in t.get("public", "") for t in state.values["transcript"])


async def test_a_failing_base_model_makes_a_hesitation_not_a_crash():
    model = ScriptedModel([ModelError("boom")] * 4, kind="base")
    graph = drama(
        elsinore(), actor=actor_for(model), tool_agent=ToolAgent(model=model), max_turns=3
    )
    final = await graph.ainvoke({}, {"recursion_limit": 100})
    failed = [t for t in final["transcript"] if t["kind"] == "turn" and t.get("error")]
    assert len(failed) == 1 and "boom" in failed[0]["error"] and failed[0]["public"] == ""


async def test_instruct_models_keep_their_words_on_act_turns_and_never_print_is_silent():
    from tests.drama.test_graph import decision, two_scenes

    actor_m = ScriptedModel(
        [
            decision("act", intent="take the cup", line="This cup is mine."),
            decision("speak", line=None),
            decision("silent"),
        ]
    )
    tool_m = ScriptedModel([{"command": "take cup"}])
    graph = drama(
        two_scenes(), actor=Actor(model=actor_m), tool_agent=ToolAgent(model=tool_m), max_turns=3
    )
    final = await graph.ainvoke({}, {"recursion_limit": 100})
    turns = [t for t in final["transcript"] if t["kind"] == "turn"]
    assert (
        'says: "This cup is mine."' in turns[0]["public"] and "takes the cup" in turns[0]["public"]
    )
    assert turns[1]["public"].endswith("waits.") and turns[2]["public"].endswith("waits.")
    assert not any("silent" in t["public"] for t in turns)


# ---------------------------------------------------------------- on the embedded model


@pytest.mark.model
async def test_the_main_job_plays_eight_turns_worth_watching_on_the_embedded_model():
    """`bash scripts/main.sh`'s play: 8 turns of Elsinore on `local`, as the issue asks."""
    from dramaturg.models import load_model

    model = load_model("local")
    model.inner.load() if hasattr(model, "inner") else None
    graph = drama(
        elsinore(),
        actor=actor_for(model),
        director=director_for(model),
        tool_agent=ToolAgent(model=model),
        max_turns=8,
    )
    t0 = time.perf_counter()
    final = await graph.ainvoke({}, {"recursion_limit": 200})
    took = time.perf_counter() - t0
    turns = [t for t in final["transcript"] if t["kind"] == "turn"]
    shown = [
        t for t in turns if t["public"] and not re.search(r"waits\.|looks around\.", t["public"])
    ]
    lines = [t["line"].lower() for t in turns if t.get("line")]
    assert len(turns) == 8 and len(shown) >= 6, [t["public"] for t in turns]
    assert len(lines) == len(set(lines)), lines
    assert not [c for t in turns for c in copied(t["public"])]
    assert took < 30, took
