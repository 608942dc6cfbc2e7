"""The drama graph with a real :class:`dramaturg.memory.Memory` behind its ``MemoryLike`` seam.

Offline: the memory lives in a temp folder and embeds with the hashing
embedder; the roles are ScriptedModels.
"""

from __future__ import annotations

from dramaturg.agents import ToolAgent
from dramaturg.drama import Actor, Director, drama
from dramaturg.drama.protocols import BlueprintLike, MemoryLike
from dramaturg.memory import HashingEmbedder, Memory
from dramaturg.models import ScriptedModel
from tests.drama.test_graph import decision, pick, two_scenes

HIDDEN = "Claudius hid the poison vial behind the throne"


def open_memory(path) -> Memory:
    return Memory(path, embedder=HashingEmbedder(), durability="normal")


async def test_the_play_is_recorded_in_memory_and_actors_recall_only_what_they_witnessed(
    tmp_path,
):
    memory = open_memory(tmp_path / "memory")
    memory.record(
        text=HIDDEN, actor="claudius", place="hall", witnesses={"claudius"}, session="backstory"
    )
    seam: MemoryLike = memory  # the graph's seam, as a type checker sees it
    play: BlueprintLike = two_scenes()
    lines = ["Welcome, my son.", "A little more than kin.", "Be merry, my lord."]
    actor = ScriptedModel([decision("speak", line=line) for line in lines])
    director = ScriptedModel([pick("claudius", "b1"), pick("hamlet", "b1"), pick("claudius")])
    graph = drama(
        play,
        actor=Actor(model=actor),
        director=Director(model=director),
        tool_agent=ToolAgent(model=ScriptedModel([])),
        player=None,
        max_turns=3,
        reflect_every=10,
        memory=seam,
    )
    final = await graph.ainvoke({})
    assert final["ended"] and final["step"] == 3
    actor.assert_consumed()
    director.assert_consumed()

    # Every event the play made is in the memory once, under its scene, with its witnesses.
    played = [e for t in final["transcript"] if t["kind"] == "turn" for e in t["events"]]
    logged = [e for e in memory.episodic.events() if e.session == "scene-0"]
    assert [e.text for e in logged] == [e["text"] for e in played] and len(logged) == 3
    assert [sorted(e.witnesses) for e in logged] == [e["witnesses"] for e in played]
    for line in lines:
        assert any(line in e.text for e in logged), line
    heard = " ".join(e.text for e in memory.episodic.witnessed_by("hamlet", session="scene-0"))
    assert all(line in heard for line in lines)
    assert memory.episodic.witnessed_by("ophelia") == []  # not in the scene: heard nothing

    # Retrieval feeds each actor only its own memories: Claudius's secret reaches his prompt, not Hamlet's.
    claudius_first, hamlet, claudius_again = (call.prompt for call in actor.calls)
    assert HIDDEN in claudius_first and HIDDEN in claudius_again
    assert HIDDEN not in hamlet

    # What was recorded is on disk: a memory opened again on the folder still holds the scene.
    memory.close()
    again = open_memory(tmp_path / "memory")
    try:
        assert [e.text for e in again.episodic.witnessed_by("claudius", session="scene-0")] == [
            e.text for e in logged
        ]
    finally:
        again.close()
