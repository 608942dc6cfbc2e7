"""Talk to the embedded model: free text, then a schema-constrained answer.

python examples/models_quickstart.py                      # embedded Gemma 3 270M
DRAMATURG_MODEL=litellm:openai/gpt-4o-mini python examples/models_quickstart.py
"""

from typing import Literal

from pydantic import BaseModel, Field

from dramaturg import assistant, caller, load_model, system, user


class Entrance(BaseModel):
    character: str = Field(max_length=30)
    mood: Literal["calm", "angry", "afraid", "joyful"]
    line: str = Field(max_length=120)


model = load_model(trace="quickstart-trace.jsonl")

with caller("narrator"):
    story = model.complete_sync(
        [system("A gothic tale."), user("The castle gate creaked open and")], max_tokens=40
    )
print(story.text, "\n")

# A base model follows examples better than instructions: show it one.
with caller("director"):
    entrance = model.structured_sync(
        [
            system("Entrances in a play, as JSON."),
            user("Yorick enters, laughing."),
            assistant('{"character": "Yorick", "mood": "joyful", "line": "A jest, my lords!"}'),
            user("Macbeth enters, blood on his hands."),
        ],
        Entrance,
    )
print(entrance)
print(model.usage.as_dict())
