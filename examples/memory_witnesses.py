"""Three actors, one secret: each recalls only what it witnessed.

python examples/memory_witnesses.py
"""

import tempfile
from pathlib import Path

from dramaturg.memory import Memory

with tempfile.TemporaryDirectory() as tmp:
    mem = Memory(Path(tmp) / "elsinore")  # MiniLM embedder, embedded chroma; nothing is downloaded

    mem.scene.add_place("garden")
    mem.scene.add_place("hall")
    for name, place in [("claudius", "garden"), ("hamlet", "hall"), ("ophelia", "hall")]:
        mem.scene.add_agent(name, place=place)

    # Witnesses are whoever the scene graph says is present.
    mem.record(
        text="Claudius pours poison into the sleeping king's ear.",
        actor="claudius",
        place="garden",
        step=1,
        witnesses=mem.scene.present_at("garden"),
    )
    mem.record(
        text="Hamlet tells Ophelia he will go to England.",
        actor="hamlet",
        place="hall",
        step=2,
        witnesses=mem.scene.present_at("hall"),
    )
    mem.share("court", "Claudius is the new king of Denmark.")
    for name in ("claudius", "hamlet", "ophelia"):
        mem.join(name, "court")

    for name in ("claudius", "hamlet", "ophelia"):
        print(name, "->", [r.text for r in mem.retrieve(name, "How did the old king die?", k=2)])

    saved = mem.save(Path(tmp) / "saved")  # all three parts, checksummed
    restored = Memory.load(saved, Path(tmp) / "restored")
    assert restored.dump() == mem.dump()
    print("restored", restored.episodic.count(), "events")
