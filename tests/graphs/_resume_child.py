"""Run (or resume) a 3-step workforce run on a checkpointer; used by test_resume.py.

    python _resume_child.py DB SIDE_FILE start|resume [THREAD_ID]

DB is anything ``open_checkpointer`` takes: a SQLite path or a ``postgresql://`` URL.
THREAD_ID (default ``run-1``) keeps runs apart on a database shared by several tests.
"""

import asyncio
import json
import sys
import time

from dramaturg.agents import Critic, Planner, Worker
from dramaturg.graphs import open_checkpointer, workforce
from dramaturg.models import ScriptedModel

db, side, mode = sys.argv[1:4]
thread_id = sys.argv[4] if len(sys.argv) > 4 else "run-1"
PLAN = {
    "subtasks": [
        {"id": "s1", "description": "one"},
        {"id": "s2", "description": "two", "depends_on": ["s1"]},
        {"id": "s3", "description": "three", "depends_on": ["s2"]},
    ]
}


def work(messages, opts):
    sid = messages[0]["content"].split("Subtask ")[1].split(":")[0]
    with open(side, "a") as fh:
        fh.write(f"start {sid}\n")
        fh.flush()
    time.sleep(0.4)  # long enough to be killed in the middle
    return f"did {sid}"


async def main() -> None:
    async with open_checkpointer(db) as saver:
        graph = workforce(
            planner=Planner(model=ScriptedModel([PLAN])),
            workers=[Worker(name="w", model=ScriptedModel([work] * 10))],
            critic=Critic(model=ScriptedModel([{"score": 90, "route": "accept"}] * 10)),
            checkpointer=saver,
        )
        config = {"configurable": {"thread_id": thread_id}}
        final = await graph.ainvoke(
            {"task": "three steps"} if mode == "start" else None, config, durability="sync"
        )
        print(json.dumps(final))


asyncio.run(main())
