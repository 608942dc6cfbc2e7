"""What the judge and panel tests share: a short scene, its context, and a model answer."""

from __future__ import annotations

IDS = ["in_character", "coherence", "progress", "secrecy"]
SCENE = [
    ("Hamlet", "Who's there?"),
    ("Horatio", "Friends to this ground."),
    ("Hamlet", "What did you see last night, Horatio?"),
    ("Horatio", "My lord, I think I saw your father."),
]
CONTEXT = {
    "scene": "The battlements of Elsinore at midnight",
    "goal": "Horatio tells Hamlet he saw the ghost.",
    "personas": {"Hamlet": "the grieving prince", "Horatio": "Hamlet's sceptical friend"},
    "secrets": {"Horatio": ["He saw the ghost of the old king."]},
}


def answer(score: int, reason: str = "Because.") -> dict:
    return {"reason": reason, "score": score}
