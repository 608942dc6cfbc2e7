"""Character cards joining a blueprint, and their lorebook reaching the actor's prompt."""

from __future__ import annotations

from dramaturg.agents import ToolAgent
from dramaturg.drama import Actor, Blueprint, Director, drama, load_card
from dramaturg.models import ScriptedModel
from dramaturg.worlds.theatre import load_stage


def card(name: str) -> dict:
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": name, "description": f"{name} keeps the castle's keys.", "personality": "dry", "scenario": "",
        "first_mes": "", "mes_example": "", "creator_notes": "CREATOR-ONLY-NOTE", "system_prompt": "",
        "post_history_instructions": "", "alternate_greetings": [], "tags": [], "creator": "", "character_version": "",
        "extensions": {}, "character_book": {"entries": [
            {"keys": ["Hamlet"], "content": "Yorick once carried Hamlet on his back.", "extensions": {},
             "enabled": True, "insertion_order": 0},
            {"keys": ["never"], "content": "DISABLED-ENTRY", "extensions": {}, "enabled": False, "insertion_order": 1},
        ], "extensions": {}}}}


def test_a_new_card_joins_every_scene_and_a_known_name_updates_the_character():
    bp = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore")
    out = bp.with_cards([load_card(card("Yorick")), load_card(card("Ophelia"))])
    assert "yorick" in out.cast and all("yorick" in s.cast for s in out.scenes)
    assert out.cast["yorick"].lore[0].text == "Yorick once carried Hamlet on his back."
    assert [n.text for n in out.cast["yorick"].lore] == ["Yorick once carried Hamlet on his back."]  # disabled: gone
    assert "keeps the castle's keys" in out.cast["ophelia"].background and len(out.cast) == len(bp.cast) + 1
    assert "CREATOR-ONLY-NOTE" not in out.to_yaml()
    assert Blueprint.model_validate(out.model_dump()) == out


async def test_lore_fires_when_its_key_is_heard():
    bp = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore").with_cards([load_card(card("Yorick"))])
    speak = {"thought": "t", "kind": "speak", "to": None, "line": "Hamlet, is that you?", "intent": None}
    actor = ScriptedModel([speak, speak])
    director = ScriptedModel([{"actor": "hamlet", "beat": None}, {"actor": "yorick", "beat": None}])
    graph = drama(bp, actor=Actor(model=actor), director=Director(model=director),
                  tool_agent=ToolAgent(model=ScriptedModel([])), max_turns=2, reflect_every=10)
    await graph.ainvoke({})
    yorick_prompt = actor.calls[1].prompt
    assert "Yorick once carried Hamlet on his back." in yorick_prompt
    assert "CREATOR-ONLY-NOTE" not in yorick_prompt and "DISABLED-ENTRY" not in yorick_prompt
    assert "Yorick once carried" not in actor.calls[0].prompt  # Hamlet has no such lore
