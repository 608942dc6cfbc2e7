"""Character cards joining a blueprint, and their lorebook reaching the actor's prompt."""

from __future__ import annotations

import re

import pytest

from dramaturg.agents import ToolAgent
from dramaturg.drama import Actor, Blueprint, BlueprintError, Director, drama, load_card
from dramaturg.models import ScriptedModel
from dramaturg.worlds.theatre import load_stage


def card(
    name: str, description: str | None = None, lore: str = "Yorick once carried Hamlet on his back."
) -> dict:
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": name,
            "description": description or f"{name} keeps the castle's keys.",
            "personality": "dry",
            "scenario": "",
            "first_mes": "",
            "mes_example": "",
            "creator_notes": "CREATOR-ONLY-NOTE",
            "system_prompt": "",
            "post_history_instructions": "",
            "alternate_greetings": [],
            "tags": [],
            "creator": "",
            "character_version": "",
            "extensions": {},
            "character_book": {
                "entries": [
                    {
                        "keys": ["Hamlet"],
                        "content": lore,
                        "extensions": {},
                        "enabled": True,
                        "insertion_order": 0,
                    },
                    {
                        "keys": ["never"],
                        "content": "DISABLED-ENTRY",
                        "extensions": {},
                        "enabled": False,
                        "insertion_order": 1,
                    },
                ],
                "extensions": {},
            },
        },
    }


def test_a_new_card_joins_every_scene_and_a_known_name_updates_the_character():
    bp = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore")
    out = bp.with_cards([load_card(card("Yorick")), load_card(card("Ophelia"))])
    assert "yorick" in out.cast and all("yorick" in s.cast for s in out.scenes)
    assert out.cast["yorick"].lore[0].text == "Yorick once carried Hamlet on his back."
    assert [n.text for n in out.cast["yorick"].lore] == [
        "Yorick once carried Hamlet on his back."
    ]  # disabled: gone
    assert (
        "keeps the castle's keys" in out.cast["ophelia"].background
        and len(out.cast) == len(bp.cast) + 1
    )
    assert "CREATOR-ONLY-NOTE" not in out.to_yaml()
    assert Blueprint.model_validate(out.model_dump()) == out


async def test_lore_fires_when_its_key_is_heard():
    bp = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore").with_cards(
        [load_card(card("Yorick"))]
    )
    speak = {
        "thought": "t",
        "kind": "speak",
        "to": None,
        "line": "Hamlet, is that you?",
        "intent": None,
    }
    actor = ScriptedModel([speak, speak])
    director = ScriptedModel([{"actor": "hamlet", "beat": None}, {"actor": "yorick", "beat": None}])
    graph = drama(
        bp,
        actor=Actor(model=actor),
        director=Director(model=director),
        tool_agent=ToolAgent(model=ScriptedModel([])),
        max_turns=2,
        reflect_every=10,
    )
    await graph.ainvoke({})
    yorick_prompt = actor.calls[1].prompt
    assert "Yorick once carried Hamlet on his back." in yorick_prompt
    assert "CREATOR-ONLY-NOTE" not in yorick_prompt and "DISABLED-ENTRY" not in yorick_prompt
    assert "Yorick once carried" not in actor.calls[0].prompt  # Hamlet has no such lore


def test_macros_are_filled_in_the_lorebook_as_in_the_persona():
    bp = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore")
    yorick = load_card(
        card(
            "Yorick",
            description="{{char}} jests for {{user}}.",
            lore="{{char}} once carried {{user}} on his back.",
        )
    )
    played = bp.with_cards([yorick], user="Hamlet").cast["yorick"]
    assert [n.text for n in played.lore] == ["Yorick once carried Hamlet on his back."]
    assert "Yorick jests for Hamlet." in played.background
    watched = bp.with_cards([yorick]).cast["yorick"]  # no player: a neutral word
    assert [n.text for n in watched.lore] == ["Yorick once carried you on his back."]
    assert "{{" not in watched.background and "Yorick jests for you." in watched.background


def test_non_ascii_names_get_readable_or_stable_ids():
    bp = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore")
    out = bp.with_cards([load_card(card("Zoë")), load_card(card("李白")), load_card(card("Ægir"))])
    new = [cid for cid in out.cast if cid not in bp.cast]
    assert new[0] == "zoe" and new[2] == "aegir" and re.fullmatch(r"char_[0-9a-f]{6}", new[1])
    assert [out.cast[c].name for c in new] == ["Zoë", "李白", "Ægir"]
    again = bp.with_cards([load_card(card("李白"))])
    assert new[1] in again.cast  # the same id whatever else is in the cast
    assert all(new[1] in s.cast for s in out.scenes)


def test_two_cards_with_one_name_are_refused():
    bp = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore")
    with pytest.raises(BlueprintError, match=r"two cards are named 'Yorick'"):
        bp.with_cards(
            [load_card(card("Yorick")), load_card(card("yorick", description="Another."))]
        )
    with pytest.raises(
        BlueprintError, match=r"two cards are named 'Ophelia'"
    ):  # a cast member's name too
        bp.with_cards([load_card(card("Ophelia")), load_card(card("Ophelia"))])


def test_two_names_with_one_id_are_both_kept():
    bp = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore")
    out = bp.with_cards(
        [
            load_card(card("Anne-Marie", description="The first.")),
            load_card(card("Anne Marie", description="The second.")),
        ]
    )
    assert (
        out.cast["anne_marie"].name == "Anne-Marie"
        and "The first." in out.cast["anne_marie"].background
    )
    assert (
        out.cast["anne_marie_2"].name == "Anne Marie"
        and "The second." in out.cast["anne_marie_2"].background
    )
