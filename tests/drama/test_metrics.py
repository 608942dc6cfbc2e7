"""Drama metrics from hand-written transcripts (each number checked by hand)."""

from __future__ import annotations

from dramaturg.drama.blueprint import Blueprint
from dramaturg.drama.metrics import drama_metrics, mentions
from dramaturg.worlds.theatre import load_stage

SECRET = "Claudius poured poison in the old king's ear"


def blueprint() -> Blueprint:
    data = Blueprint.from_stage(load_stage("elsinore"), topic="elsinore").model_dump()
    data["cast"]["claudius"]["secrets"] = [
        {"id": "murder", "text": SECRET, "known_by": ["claudius"]}
    ]
    return Blueprint.model_validate(data)


def say(step, actor, line, witnesses, by="agent"):
    return {
        "kind": "turn",
        "step": step,
        "actor": actor,
        "by": by,
        "action": "speak",
        "line": line,
        "events": [{"text": f"{actor} says: {line}", "witnesses": witnesses}],
    }


def test_mentions_needs_most_of_the_secret():
    assert mentions("I know Claudius poured poison into the king's ear!", SECRET)
    assert not mentions("The king is dead.", SECRET)
    assert not mentions("", SECRET)


def test_a_leak_is_a_secret_told_by_someone_who_never_learned_it():
    transcript = [
        {"kind": "scene", "scene": 0, "title": "t", "place": "hall"},
        say(
            1, "hamlet", "Claudius poured poison in the king's ear!", ["hamlet", "claudius"]
        ),  # leak: never told
        say(
            2, "claudius", "Yes, I poured poison in the old king's ear.", ["claudius", "ophelia"]
        ),  # his own
        say(
            3, "ophelia", "Claudius poured the poison in the king's ear.", ["ophelia"]
        ),  # she heard it: fine
        say(4, "horatio", "Claudius poured poison in the old king's ear.", ["horatio"]),  # leak
        say(
            5, "horatio", "Claudius poured poison in the old king's ear.", ["horatio"]
        ),  # leak, and a repeat
        {
            "kind": "turn",
            "step": 6,
            "actor": "claudius",
            "by": "agent",
            "action": "act",
            "error": "the cup is held",
            "events": [],
        },
        {
            "kind": "turn",
            "step": 7,
            "actor": "ophelia",
            "by": "agent",
            "action": "move",
            "events": [],
        },
        {
            "kind": "scene_end",
            "scene": 0,
            "beats": [
                {"id": "b1", "text": "x", "status": "done"},
                {"id": "b2", "text": "y", "status": "pending"},
            ],
        },
    ]
    m = drama_metrics(transcript, blueprint(), model_calls=14)
    assert [(x["step"], x["actor"]) for x in m.leaks] == [
        (1, "hamlet"),
        (4, "horatio"),
        (5, "horatio"),
    ]
    assert m.beats_done == 1 and m.beats_planned == 2 and m.beat_completion == 0.5
    assert m.prop_state_errors == 1 and m.refused_actions == 1
    assert m.actor_initiated_share == 2 / 7
    assert m.repetition == 1 / 5
    assert m.model_calls_per_step == 2.0
