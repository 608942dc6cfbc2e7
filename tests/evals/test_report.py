"""Evaluation reports and comparisons, from run directories written by hand."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from dramaturg.errors import ConfigError
from dramaturg.evals.report import compare, render_report, write_report

SCRIPT = "<script>alert(1)</script>"
URL = "https://example.com/a?x=1&y=2"


def stats(
    n, episodes, successes, *, k=2, errors=0, steps=10.0, prompt=1000, completion=100, cost=0.0
):
    rate = successes / episodes if episodes else 0.0
    return {
        "n": n,
        "episodes": episodes,
        "successes": successes,
        "success_rate": rate,
        "stderr": math.sqrt(rate * (1 - rate) / max(episodes, 1)),
        "pass_at_1": rate,
        "pass_at_k": min(1.0, 2 * rate),
        "k": k,
        "errors": errors,
        "mean_steps": steps,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost_usd": cost,
        "mean_latency_s": 1.5,
    }


def episode(
    case, attempt, success, *, task_type=None, status="done", steps=10, error=None, cost=0.0
):
    return {
        "case_id": case,
        "task_type": task_type or case.split("/")[1],
        "split": "unseen",
        "attempt": attempt,
        "seed": 0,
        "status": status,
        "success": success,
        "score": float(success),
        "steps": steps,
        "prompt_tokens": 500,
        "completion_tokens": 40,
        "cost_usd": cost,
        "latency_s": 2.0,
        "error": error,
        "answer": None,
        "metrics": {"repetition": 0.25},
    }


def make_run(
    path: Path, episodes, by_task_type, *, model="local", traces=None, truncated=False
) -> Path:
    path.mkdir(parents=True)
    ok = sum(e["success"] for e in episodes)
    run = {
        "suite": "alfworld-style",
        "agent": "embodied",
        "model": model,
        "attempts": 2,
        "max_steps": 30,
        "backend": "mp",
        "seed": 0,
        "command": "dramaturg eval run alfworld-style --agent embodied --n 3 --k 2",
        "created": "2026-11-23T10:00:00Z",
        "version": "0.1.0",
        "n_cases": len({e["case_id"] for e in episodes}),
    }
    (path / "run.json").write_text(json.dumps(run))
    cost = sum(s["cost_usd"] for s in by_task_type.values())
    summary = {
        "suite": run["suite"],
        "agent": run["agent"],
        "model": model,
        "attempts": 2,
        "overall": stats(run["n_cases"], len(episodes), ok, errors=1, cost=cost),
        "by_task_type": by_task_type,
        "by_split": {"unseen": stats(run["n_cases"], len(episodes), ok)},
    }
    (path / "summary.json").write_text(json.dumps(summary))
    lines = [json.dumps(e) for e in episodes]
    (path / "episodes.jsonl").write_text(
        "\n".join(lines) + "\n" + ('{"case_id": "alfworld/pi' if truncated else "")
    )
    (path / "traces").mkdir()
    for (case, attempt), steps in (traces or {}).items():
        name = f"{case.replace('/', '__')}.{attempt}.jsonl"
        (path / "traces" / name).write_text("".join(json.dumps(s) + "\n" for s in steps))
    return path


def step(i, observation="You see a desk.", action="go to desk 1"):
    return {
        "step": i,
        "action": action,
        "reasoning": "the key is probably there",
        "observation": observation,
        "reward": 0.0,
        "prompt_tokens": 50,
        "completion_tokens": 4,
        "latency_s": 0.01,
    }


P, L = "alfworld/pick_and_place_simple/unseen/", "alfworld/look_at_obj_in_light/unseen/"


@pytest.fixture
def run_dir(tmp_path):
    episodes = [
        episode(P + "0", 0, True, steps=4),
        episode(P + "0", 1, True, steps=6),
        episode(
            P + "1",
            0,
            False,
            status="error",
            steps=2,
            error='model said "no" & <refused> ' + "x" * 200,
        ),
        episode(P + "1", 1, False, status="timeout", steps=30),
        episode(L + "2", 0, True, steps=12, cost=0.01),
        episode(L + "2", 1, False, steps=30, cost=0.02),
    ]
    by_type = {
        "pick_and_place_simple": stats(2, 4, 2, errors=1, steps=10.5),
        "look_at_obj_in_light": stats(1, 2, 1, steps=21.0, prompt=4000, completion=900, cost=0.03),
    }
    traces = {
        (P + "0", 0): [
            step(1, f"You open it: {SCRIPT} see {URL}"),
            step(2, 'a "quoted" <b>thing</b>'),
        ],
        (P + "1", 0): [step(i, f"obs-{i}-end") for i in range(1, 251)],
    }
    return make_run(tmp_path / "run", episodes, by_type, traces=traces)


class _Balance(HTMLParser):
    """Checks that every non-void element that opens also closes, in order."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "rect", "line", "path", "wbr"})

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.ids += [v for k, v in attrs if k == "id"]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()


def test_the_report_is_one_well_formed_offline_page(run_dir):
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    page = path.read_text(encoding="utf-8")
    checker = _Balance()
    checker.feed(page)
    assert checker.stack == ["html"] or checker.stack == []  # html's end tag closes it
    assert len(checker.ids) == len(set(checker.ids))
    # Nothing loads from elsewhere: the one web address is the escaped observation.
    assert page.count("http") == 1 and "https://example.com/a?x=1&amp;y=2" in page
    for outside in ("src=", "<link", "@import", "url(", "xmlns"):
        assert outside not in page
    # One chart per plot: success rate, steps, tokens, cost (this run cost money), histogram.
    assert page.count("<svg") == 5
    assert page.count("<title>") >= 5 + 2 * 3  # a tooltip per bar
    assert "prefers-color-scheme:dark" in page


def test_the_header_shows_how_the_run_was_made_and_its_overall_numbers(run_dir):
    page = render_report(run_dir)
    header = page[page.index("<header>") : page.index("</header>")]
    for fact in (
        "alfworld-style",
        "embodied",
        "local",
        "2026-11-23 10:00 UTC",
        "dramaturg eval run alfworld-style",
    ):
        assert fact in header
    kpis = page[page.index('class="kpis"') : page.index('id="charts"')]
    assert "50.0% <small>± 20.4%</small>" in kpis  # 3 of 6 from summary.json: sqrt(.25 / 6)
    assert "pass@2" in kpis and "1 / 1" in kpis  # one error, one timeout
    assert "$0.03" in kpis


def test_everything_from_the_run_is_escaped(run_dir):
    page = render_report(run_dir)
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # the page's own sorting script
    assert "a &quot;quoted&quot; &lt;b&gt;thing&lt;/b&gt;" in page
    # The error is cut in its cell and whole in the tooltip.
    title = re.search(r'<td class="error" title="([^"]*)">([^<]*)</td>', page)
    assert title and title.group(1).startswith(
        "model said &quot;no&quot; &amp; &lt;refused&gt; xxx"
    )
    assert title.group(1).count("x") == 200 and "more characters" in title.group(2)


def test_each_case_links_to_its_trace_and_long_traces_are_cut(run_dir):
    page = render_report(run_dir)
    links = re.findall(r'<a href="#(t-\d+)" class="case">([^<]*)</a>', page)
    assert len(links) == 6
    assert [case for _, case in links] == sorted(case for _, case in links)  # by case, then attempt
    for anchor, _ in links:
        assert f'<details id="{anchor}">' in page
    anchor = next(a for a, case in links if case == P + "1")  # its attempt 0 has 250 steps
    trace = page[page.index(f'<details id="{anchor}">') :].split("</details>")[0]
    assert (
        "obs-1-end" in trace
        and "obs-100-end" in trace
        and "obs-151-end" in trace
        and "obs-250-end" in trace
    )
    assert "obs-101-end" not in trace and "obs-150-end" not in trace
    assert "50 steps cut" in trace
    assert "No trace recorded" in page  # the other episodes have no trace file


def test_a_killed_run_s_half_written_last_line_is_skipped_and_reported(tmp_path):
    episodes = [episode(P + "0", 0, True), episode(P + "1", 0, False)]
    run = make_run(
        tmp_path / "run", episodes, {"pick_and_place_simple": stats(2, 2, 1)}, truncated=True
    )
    page = write_report(run).read_text(encoding="utf-8")
    assert "1 unreadable line of episodes.jsonl skipped" in page
    assert len(re.findall(r'class="case"', page)) == 2


def test_a_free_run_with_one_task_type_says_so(tmp_path):
    episodes = [episode(P + "0", 0, True), episode(P + "1", 0, False)]
    run = make_run(tmp_path / "run", episodes, {"pick_and_place_simple": stats(2, 2, 1)})
    page = render_report(run)
    assert page.count("<svg") == 4  # no cost chart
    assert "Free: no episode of this run cost anything." in page
    assert ">free<" in page


def test_pass_at_1_shows_once_when_each_case_had_one_attempt(tmp_path):
    episodes = [episode(P + "0", 0, True), episode(P + "1", 0, False)]
    run = make_run(tmp_path / "run", episodes, {"pick_and_place_simple": stats(2, 2, 1, k=1)})
    meta = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**meta, "attempts": 1}))
    summary = json.loads((run / "summary.json").read_text())
    for group in (summary["overall"], summary["by_split"]["unseen"]):
        group.update(k=1, pass_at_k=group["pass_at_1"])
    (run / "summary.json").write_text(json.dumps({**summary, "attempts": 1}))
    page = render_report(run)
    kpis = page[page.index('class="kpis"') : page.index('id="charts"')]
    assert kpis.count("pass@") == 1 and ">pass@1<" in kpis
    tables = page[page.index("<h3>By task type</h3>") : page.index('id="episodes"')]
    assert tables.count("pass@") == 2  # one column in each table, by task type and by split
    assert "pass@k" not in page


def test_more_attempts_show_pass_at_1_and_pass_at_k_by_name(run_dir):
    page = render_report(run_dir)
    tables = page[page.index("<h3>By task type</h3>") : page.index('id="episodes"')]
    assert tables.count(">pass@1<") == 2 and tables.count(">pass@2<") == 2 and "pass@k" not in page


def test_a_folder_that_is_not_a_run_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "episodes.jsonl").write_text("")
    with pytest.raises(ConfigError, match=r"no summary\.json.*dramaturg eval run"):
        write_report(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not a directory"):
        write_report(tmp_path / "missing")
    assert not (tmp_path / "empty" / "report.html").exists()


def _paired_runs(tmp_path, *, same_cases=True):
    """A: 3/10 first attempts succeed, B: 8/10. Shared cases: A alone wins 1, B alone wins 6."""
    a_ok = [True, False, False, False, False, True, False, False, False, True]
    b_ok = [True, True, True, True, False, False, True, True, True, True]

    def eps(ok, prefix):
        out = []
        for i, success in enumerate(ok):
            kind = "pick" if i < 6 else "heat"
            out.append(episode(f"alfworld/{kind}/unseen/{prefix}{i}", 0, success, task_type=kind))
        return out

    a_eps = eps(a_ok, "c")
    a_eps.insert(
        0, episode("alfworld/pick/unseen/c1", 1, True, task_type="pick")
    )  # a later attempt: ignored
    if same_cases:
        a_eps.append(
            episode("alfworld/heat/unseen/only-a", 0, True, task_type="heat")
        )  # not shared: left out
    b_eps = eps(b_ok, "c" if same_cases else "d")
    by_type = {"pick": stats(6, 6, 3), "heat": stats(4, 4, 2)}
    a = make_run(tmp_path / "a", a_eps, by_type)
    b = make_run(tmp_path / "b", b_eps, by_type, model="gpt-x")
    return a, b


def test_compare_pairs_shared_cases_with_an_exact_mcnemar_test(tmp_path):
    c = compare(*_paired_runs(tmp_path))
    assert c.test == "mcnemar"
    rows = {r.group: r for r in c.rows}
    assert [r.group for r in c.rows] == ["overall", "heat", "pick"]
    overall = rows["overall"]
    assert (overall.n_a, overall.rate_a, overall.rate_b) == (10, 0.3, 0.8)
    assert overall.diff == pytest.approx(0.5) and overall.discordant == (1, 6)
    # Exact binomial, 7 discordant pairs, 1 against: 2 * (C(7,0) + C(7,1)) / 2**7 = 16/128.
    assert overall.p_value == pytest.approx(0.125)
    assert overall.se_a == pytest.approx(math.sqrt(0.3 * 0.7 / 10))
    # pick: 1 against 3 -> 2 * (1 + 4) / 16; heat: 0 against 3 -> 2 / 8.
    assert rows["pick"].p_value == pytest.approx(10 / 16) and rows["pick"].diff == pytest.approx(
        2 / 6
    )
    assert rows["heat"].p_value == pytest.approx(0.25) and rows["heat"].diff == pytest.approx(0.75)
    assert any("model" in w and "gpt-x" in w for w in c.warnings)
    assert any("1 case(s) only in A" in w for w in c.warnings)
    assert not any("max_steps" in w for w in c.warnings)


def test_compare_without_shared_cases_uses_a_two_proportion_z_test(tmp_path):
    c = compare(*_paired_runs(tmp_path, same_cases=False))
    overall = c.rows[0]
    assert c.test == overall.test == "z-test" and overall.discordant is None
    assert (overall.n_a, overall.n_b, overall.diff) == (10, 10, pytest.approx(0.5))
    # Pooled rate 11/20, se sqrt(.55 * .45 * (1/10 + 1/10)), z = 2.247: two-sided p = 0.0246.
    assert overall.p_value == pytest.approx(0.024619, abs=1e-6)
    assert "z-test" in c.description


def test_comparison_renders_a_row_per_task_type(tmp_path):
    c = compare(*_paired_runs(tmp_path))
    md = c.to_markdown()
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert [line.split(" | ")[0] for line in table] == [
        "| task type",
        "| **overall**",
        "| heat",
        "| pick",
    ]
    assert "| **overall** | 10 | 30.0% ± 14.5% | 80.0% ± 12.6% | +50.0 pp | 0.125 | mcnemar |" in md
    assert "> **Warning:** the runs differ in model" in md
    table = c.to_rich()
    assert table.row_count == 3
    console = Console(record=True, width=160)
    console.print(table)
    text = console.export_text()
    assert "+50.0 pp" in text and "McNemar" in text and "warning: the runs differ in model" in text
