"""Every fenced Python block of README.md and docs/*.md, and every file in examples/, works as written.

Each runs in a subprocess, in an empty temporary folder with a DRAMATURG_HOME of its own,
offline, on the default model (``local``, the embedded Gemma 3 270M), and must exit 0 and print
what its page shows (the key lines, as patterns). A README block or an example is a script of its
own; the blocks of a page under ``docs/`` continue one session and run together, in order
(``tests/_docs.py``). A new block or example fails ``test_every_block_is_listed`` until it has an
entry in ``EXPECTED`` (what it must print, and whether it needs the model or minutes).

Slow (``pytest -m slow tests/test_docs.py``), minutes on 2 cores:

* ``README.md#evaluation``: ``run_eval``, 12 react episodes in worker processes (2 to 5 minutes).

Skipped, with the reason: see ``SKIPPED``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._docs import Block, fenced, python_blocks

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
VERDICT = r"(accept|retry|replan|decompose|reassign) \(\d+/100\)"


@dataclass(frozen=True, kw_only=True)
class Expect:
    """What a block or an example must print; ``model``: it loads the embedded model."""

    shows: tuple[str, ...] = ()  # patterns (re.M), each found somewhere in stdout and stderr
    model: bool = False
    slow: bool = False
    timeout: float = 120


SKIPPED = {
    "docs/memory.md#one-machine-or-many": "needs a chroma server on 127.0.0.1:8000; tests/memory runs "
    "SemanticMemory.http against a real `chroma run`",
}

EXPECTED: dict[str, Expect] = {
    # README.md
    "README.md#models": Expect(
        model=True, shows=(r"^guilty=(True|False) reason='", r"'critic': \{'calls': 1,")
    ),
    "README.md#structured-output-on-the-embedded-model": Expect(
        model=True, shows=(r"^(speaker='[^']*' mood='(calm|angry|afraid)' words=\[|no line: )",)
    ),
    "README.md#agent-graphs": Expect(  # the workforce team on local: about 20 s
        model=True,
        timeout=420,
        shows=(r"^  \{'node': 'plan'", r"^((done|failed|budget) -> |stopped after 5 minutes)"),
    ),
    "README.md#interactive-drama": Expect(
        model=True, timeout=180, shows=(r'^(Claudius|Hamlet|Horatio) says: "',)
    ),
    "README.md#memory": Expect(
        shows=(r"^\[\]$", r"^Claudius pours poison into the king's ear\. \d", r"^backup$")
    ),
    "README.md#worlds": Expect(
        shows=(
            r"^say \['claudius', 'hamlet', 'horatio'\] Hamlet says",
            r"'give letter to ophelia'\]$",
        )
    ),
    "README.md#evaluation": Expect(
        model=True, slow=True, timeout=600, shows=(r"^\d\.\d+ \d\.\d+$",)
    ),
    "README.md#testing-your-own-agents": Expect(shows=(r"^score=90 issues=\[\] route='accept'",)),
    # docs/memory.md: one session
    "docs/memory.md#record-and-retrieve": Expect(
        shows=(
            r"^\[\]$",
            r"^Claudius pours poison into the king's ear\. \d",
            r"""^\['Hamlet says: "Who is there\?"'\]$""",
        )
    ),
    "docs/memory.md#record-and-retrieve-2": Expect(
        shows=(r"^\['Denmark is at war with Norway\.'",)
    ),
    "docs/memory.md#scoring-generative-agents": Expect(
        shows=(r"^\d\.\d\d = recency \d\.\d\d, importance ",)
    ),
    "docs/memory.md#reflection": Expect(model=True, shows=(r"^\d+ insight\(s\)$",)),
    "docs/memory.md#scene-graph": Expect(shows=(r"^\['hamlet', 'horatio'\]$",)),
    "docs/memory.md#one-machine-or-many": Expect(),
    "docs/memory.md#langgraph-store": Expect(
        shows=(r"""^\{'recalled': \["Claudius pours poison into the king's ear\.\"""",)
    ),
    "docs/memory.md#save-and-restore": Expect(shows=(r"^\d+ events restored$",)),
    # docs/tools.md, docs/worlds.md, docs/security.md
    "docs/tools.md#tools": Expect(
        shows=(
            *(
                re.escape(line)
                for line in fenced(ROOT / "docs/tools.md", "", after="gives one block per tool")[
                    0
                ].splitlines()
            ),
            r"^True 24\.85 mi$",
            r"^24\.85 mi$",
        )
    ),
    "docs/worlds.md#worlds": Expect(
        shows=(r"^\['alfworld/", r"^You open the door\. \['look', 'inventory', 'wait'\]$")
    ),
    "docs/worlds.md#textworld": Expect(shows=(r"Let's cook a delicious meal", r"'eat meal'\]$")),
    "docs/worlds.md#alfworld-style": Expect(
        shows=(r"^Your task is to: put a hot mug in diningtable\.$",)
    ),
    "docs/security.md#python-sandbox-pythontool-sandbox": Expect(
        shows=(r"^\{'landlock': \d+, 'audit_hook': True",)
    ),
    # examples/
    "examples/custom_graph.py": Expect(
        model=True,
        timeout=180,
        shows=(
            r"^writer: drafting",
            r"^critic: scoring",
            r"^draft: ",
            rf"^verdict: ({VERDICT}|none: )",
        ),
    ),
    "examples/memory_witnesses.py": Expect(
        shows=(
            r"""^claudius -> \["Claudius pours poison""",
            r"^hamlet -> \[(?!.*poison).*\]$",
            r"^restored 2 events$",
        )
    ),
    "examples/models_quickstart.py": Expect(
        model=True,
        shows=(
            r"^character='[^']*' mood='(calm|angry|afraid|joyful)' line='",
            r"'narrator': \{'calls': 1,",
        ),
    ),
    "examples/tools_quickstart.py": Expect(
        shows=(
            r"^52\.5$",
            r"Did you mean 'convert'\?",
            r"network access \(socket\.\w+\) is not allowed",
            r"^24\.85 mi$",
        )
    ),
    "examples/worlds_gold_plans.py": Expect(
        shows=(r"^textworld/tw-cooking \| ", r"^alfworld/pick_cool", r"(?s)won: True.*won: True")
    ),
    "examples/worlds_state.py": Expect(
        shows=(
            r"^  \(restored: seed 1, 2 actions replayed\)$",
            r"^won \(judged by the new world's server\): True$",
        )
    ),
    "examples/worlds_theatre.py": Expect(
        shows=(r"witnessed by \['claudius'\]$", r"^next turn: ophelia$")
    ),
    "examples/worlds_web.py": Expect(shows=(r"^won \(judged by the server\): True$",)),
}


def _blocks() -> dict[str, list[Block]]:
    return {page: python_blocks(ROOT / page, label=page) for page in PAGES}


def _runs() -> list:
    """One run per README block, per docs page (its blocks as one session) and per example."""
    runs = []
    for page, blocks in _blocks().items():
        if page == "README.md":
            groups = [(b.id, [b]) for b in blocks]
        else:
            groups = [(page, [b for b in blocks if b.id not in SKIPPED])] if blocks else []
        for run_id, group in groups:
            expects = [EXPECTED.get(b.id, Expect()) for b in group]
            marks = [pytest.mark.model] * any(e.model for e in expects) + [pytest.mark.slow] * any(
                e.slow for e in expects
            )
            runs.append(pytest.param(run_id, group, expects, marks=marks, id=run_id))
    for name in EXAMPLES:
        expect = EXPECTED.get(f"examples/{name}", Expect())
        marks = [pytest.mark.model] * expect.model + [pytest.mark.slow] * expect.slow
        runs.append(
            pytest.param(f"examples/{name}", None, [expect], marks=marks, id=f"examples/{name}")
        )
    return runs


def _run(command: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "DRAMATURG_MODEL"}  # the default model
    env.update(
        DRAMATURG_HOME=str(cwd / "dramaturg-home"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        PYTHONUNBUFFERED="1",
    )
    # A session of its own, so a run past its time is stopped with every process it started
    # (run_eval's workers included).
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{' '.join(command)} ran past {timeout:.0f} s; its output:\n{out[-4000:]}")
    return proc.returncode, out


@pytest.mark.parametrize(("run_id", "blocks", "expects"), _runs())
def test_runs_as_written(
    run_id: str, blocks: list[Block] | None, expects: list[Expect], tmp_path: Path
) -> None:
    if blocks is None:  # an example: run the file where it is, from an empty folder
        command = [sys.executable, str(ROOT / run_id)]
    else:
        files = []
        for block in blocks:
            # Padded so that a traceback's line numbers are the page's.
            script = tmp_path / f"{Path(block.path).stem}_line{block.line}.py"
            script.write_text(block.script(), encoding="utf-8")
            files.append(str(script))
        # A README block is a script; a docs page's blocks continue one session.
        command = (
            [sys.executable, *files]
            if run_id.startswith("README.md#")
            else [sys.executable, str(ROOT / "tests" / "_docs.py"), *files]
        )
    code, out = _run(command, tmp_path, timeout=sum(e.timeout for e in expects))
    assert code == 0, f"{run_id} exited with {code}:\n{out[-6000:]}"
    missing = [pattern for e in expects for pattern in e.shows if not re.search(pattern, out, re.M)]
    assert not missing, f"{run_id} did not print {missing}; it printed:\n{out[-6000:]}"


@pytest.mark.parametrize("block_id", sorted(SKIPPED))
def test_skipped_blocks(block_id: str) -> None:
    pytest.skip(f"{block_id}: {SKIPPED[block_id]}")


def test_every_block_is_listed() -> None:
    found = {b.id for blocks in _blocks().values() for b in blocks} | {
        f"examples/{n}" for n in EXAMPLES
    }
    assert sorted(found - set(EXPECTED)) == [], (
        "new blocks or examples: say in EXPECTED what they print"
    )
    assert sorted(set(EXPECTED) - found) == [], "EXPECTED lists blocks or examples that are gone"
    assert set(SKIPPED) <= found
    for block_id, expect in EXPECTED.items():
        assert expect.shows or block_id in SKIPPED, (
            f"{block_id}: give at least one line it must print"
        )


def test_readme_eval_block_guards_its_run() -> None:
    # run_eval's worker processes import the calling script again: the run must sit under the guard.
    block = next(b for b in _blocks()["README.md"] if "run_eval(" in b.code)
    guard = block.code.index('if __name__ == "__main__":')
    assert guard < block.code.index("run_eval(suite")


def test_worlds_stage_yaml_plays_its_gold_plan(tmp_path: Path) -> None:
    from dramaturg.worlds import make_world

    (stage := tmp_path / "stage.yaml").write_text(
        fenced(ROOT / "docs/worlds.md", "yaml")[0], encoding="utf-8"
    )
    with make_world("theatre/stage", stage=str(stage)) as world:
        obs, info = world.reset(seed=0)
        for action in info["gold_plan"]:
            obs, _, terminated, _, info = world.step(action)
        assert info["won"] and terminated, obs
