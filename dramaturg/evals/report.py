"""Reports on evaluation runs: one offline HTML page per run, and run-against-run comparisons.

A run directory is what ``dramaturg eval run SUITE ... --out DIR`` writes:
``run.json`` (how it was run), ``summary.json`` (its statistics),
``episodes.jsonl`` (one line per finished episode) and ``traces/`` (one JSONL
file of steps per episode). This module only reads them: it draws the
summary's numbers and never recomputes them, so a folder without
``summary.json`` is refused. Comparisons of two runs live in
:mod:`dramaturg.evals.compare` and are re-exported here.

The page is a single file with its charts drawn as inline SVG, its styles
and its few lines of script inline: it opens offline, from an e-mail or a CI
artifact, in light and dark mode alike.

Example:
    >>> write_report("runs/alfworld-embodied")                   # doctest: +SKIP
    PosixPath('runs/alfworld-embodied/report.html')
    >>> diff = compare("runs/alfworld-react", "runs/alfworld-embodied")  # doctest: +SKIP
    >>> print(diff.to_markdown())                                # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from dramaturg.evals._report_page import _CSS, _JS
from dramaturg.evals._run_files import (
    _DASH,
    _attempt,
    _case,
    _cut,
    _date,
    _e,
    _load_run,
    _num,
    _pct,
    _read_jsonl,
    _Run,
    _si,
    _usd,
)
from dramaturg.evals._svg import _charts
from dramaturg.evals.compare import Comparison, ComparisonRow, compare

__all__ = ["Comparison", "ComparisonRow", "compare", "render_report", "write_report"]

TRACE_STEPS_SHOWN = 200  # a longer trace shows its first and last 100 steps
TEXT_SHOWN = 2000  # characters of one observation, reasoning or error shown in a trace

_NUM_CLASS = ' class="num"'
_FACTS = (
    "suite",
    "agent",
    "model",
    "attempts",
    "max_steps",
    "backend",
    "seed",
    "n_cases",
    "version",
)


# --------------------------------------------------------------------------- the page


def _attempts(run: _Run) -> int:
    """k of pass@k: the attempts per case."""
    o = run.summary.get("overall") or {}
    return int(_num(o.get("k")) or _num(run.meta.get("attempts")) or 1)


def _kpis(run: _Run) -> str:
    o = run.summary.get("overall") or {}
    k = _attempts(run)
    status = Counter(str(ep.get("status", "?")) for ep in run.episodes)
    # summary.json's counts where it has them; older summaries lack "timeouts"
    errors = int(_num(o["errors"])) if "errors" in o else status["error"]
    timeouts = int(_num(o["timeouts"])) if "timeouts" in o else status["timeout"]
    prompt, completion = _num(o.get("prompt_tokens")), _num(o.get("completion_tokens"))
    cost = _num(o.get("cost_usd"))
    cards = [
        (
            "success rate",
            f"{_pct(_num(o.get('success_rate')))} <small>± {_pct(_num(o.get('stderr')))}</small>",
            f"{int(_num(o.get('successes')))} of {int(_num(o.get('episodes')))} episodes",
        ),
        ("pass@1", _pct(_num(o.get("pass_at_1"))), f"over {int(_num(o.get('n')))} cases"),
        *(  # with one attempt per case, pass@k is pass@1
            [(f"pass@{k}", _pct(_num(o.get("pass_at_k"))), f"a success in any of {k} attempts")]
            if k > 1
            else []
        ),
        (
            "errors / timeouts",
            f"{errors} / {timeouts}",
            "episodes that did not finish normally",
        ),
        (
            "mean steps",
            f"{_num(o.get('mean_steps')):.1f}",
            f"mean latency {_num(o.get('mean_latency_s')):.1f} s",
        ),
        (
            "tokens",
            _si(prompt + completion),
            f"{_si(prompt)} prompt + {_si(completion)} completion",
        ),
        ("cost", _usd(cost) if cost > 0 else "free", "all episodes"),
    ]
    return "".join(
        f'<div class="kpi{" alert" * (name == "errors / timeouts" and value != "0 / 0")}">'
        f'<div class="name">{_e(name)}</div><div class="value">{value}</div>'
        f'<div class="sub">{_e(sub)}</div></div>'
        for name, value, sub in cards
    )


def _stats_table(title: str, groups: dict[str, Any], key: str, k: int) -> str:
    rows = [(str(name), s) for name, s in sorted(groups.items()) if isinstance(s, dict)]
    if not rows:
        return ""
    pass_k = k > 1  # with one attempt per case, pass@k is pass@1: one column
    head = [
        (key, ""),
        ("cases", "num"),
        ("episodes", "num"),
        ("success rate", "num"),
        ("± se", "num"),
        ("pass@1", "num"),
        *([(f"pass@{k}", "num")] if pass_k else []),
        ("errors", "num"),
        ("timeouts", "num"),
        ("mean steps", "num"),
        ("tokens", "num"),
        ("cost", "num"),
        ("mean latency", "num"),
    ]
    body = []
    for name, s in rows:
        tokens = _num(s.get("prompt_tokens")) + _num(s.get("completion_tokens"))
        cells = [
            (name, None),
            (f"{int(_num(s.get('n')))}", _num(s.get("n"))),
            (f"{int(_num(s.get('episodes')))}", _num(s.get("episodes"))),
            (_pct(_num(s.get("success_rate"))), _num(s.get("success_rate"))),
            (_pct(_num(s.get("stderr"))), _num(s.get("stderr"))),
            (_pct(_num(s.get("pass_at_1"))), _num(s.get("pass_at_1"))),
            *([(_pct(_num(s.get("pass_at_k"))), _num(s.get("pass_at_k")))] if pass_k else []),
            (f"{int(_num(s.get('errors')))}", _num(s.get("errors"))),
            (f"{int(_num(s.get('timeouts')))}", _num(s.get("timeouts"))),
            (f"{_num(s.get('mean_steps')):.1f}", _num(s.get("mean_steps"))),
            (_si(tokens), tokens),
            (_usd(_num(s.get("cost_usd"))), _num(s.get("cost_usd"))),
            (f"{_num(s.get('mean_latency_s')):.1f} s", _num(s.get("mean_latency_s"))),
        ]
        body.append(
            "<tr>"
            + "".join(
                f"<td>{_e(t)}</td>" if v is None else f'<td class="num" data-v="{v:g}">{_e(t)}</td>'
                for t, v in cells
            )
            + "</tr>"
        )
    return f"<h3>{_e(title)}</h3>" + _table(head, body)


def _table(head: Sequence[tuple[str, str]], body: Sequence[str], cls: str = "sortable") -> str:
    """A table; a sortable one has a button per heading (the script at the page's end sorts)."""
    sortable = cls == "sortable"
    ths = "".join(
        f'<th data-type="{kind or "text"}"{_NUM_CLASS * bool(kind)}>'
        + (f'<button type="button">{_e(name)}</button>' if sortable else _e(name))
        + "</th>"
        for name, kind in head
    )
    return (
        f'<div class="scroll"><table class="{cls}"><thead><tr>{ths}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _metrics_table(episodes: Sequence[dict[str, Any]]) -> str:
    values: dict[str, list[float]] = defaultdict(list)
    for ep in episodes:
        metrics = ep.get("metrics")
        for name, v in metrics.items() if isinstance(metrics, dict) else ():
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                values[str(name)].append(float(v))
    if not values:
        return ""
    body = [
        f'<tr><td>{_e(name)}</td><td class="num" data-v="{len(vs)}">{len(vs)}</td>'
        f'<td class="num" data-v="{sum(vs) / len(vs):g}">{sum(vs) / len(vs):.3g}</td>'
        f'<td class="num" data-v="{min(vs):g}">{min(vs):.3g}</td><td class="num" data-v="{max(vs):g}">{max(vs):.3g}</td></tr>'
        for name, vs in sorted(values.items())
    ]
    head = [("metric", ""), ("episodes", "num"), ("mean", "num"), ("min", "num"), ("max", "num")]
    return '<section id="metrics"><h2>Suite metrics</h2>' + _table(head, body) + "</section>"


def _episode_rows(episodes: Sequence[dict[str, Any]]) -> str:
    head = [
        ("case", ""),
        ("attempt", "num"),
        ("status", ""),
        ("success", "num"),
        ("score", "num"),
        ("steps", "num"),
        ("tokens", "num"),
        ("latency", "num"),
        ("error", ""),
    ]
    body = []
    for i, ep in enumerate(episodes):
        status, ok = str(ep.get("status", "?")), bool(ep.get("success"))
        p, c = _num(ep.get("prompt_tokens")), _num(ep.get("completion_tokens"))
        error = _cut(ep.get("error"), 10_000)
        score = ep.get("score")
        body.append(
            f'<tr><td><a href="#t-{i}" class="case">{_e(_case(ep))}</a></td>'
            f'<td class="num" data-v="{_attempt(ep)}">{_attempt(ep)}</td>'
            f'<td><span class="status s-{_e(status)}">{_e(status)}</span></td>'
            f'<td class="num" data-v="{int(ok)}"><span class="{"yes" if ok else "no"}">{"✓" if ok else "✗"}</span></td>'
            f'<td class="num" data-v="{_num(score):g}">{_DASH if score is None else f"{_num(score):.3g}"}</td>'
            f'<td class="num" data-v="{_num(ep.get("steps")):g}">{int(_num(ep.get("steps")))}</td>'
            f'<td class="num" data-v="{p + c:g}" title="{_si(p)} prompt + {_si(c)} completion">{_si(p + c)}</td>'
            f'<td class="num" data-v="{_num(ep.get("latency_s")):g}">{_num(ep.get("latency_s")):.1f} s</td>'
            + (
                f'<td class="error" title="{_e(error)}">{_e(_cut(error, 80))}</td>'
                if error
                else "<td></td>"
            )
            + "</tr>"
        )
    return _table(head, body)


def _trace(run: _Run, i: int, ep: dict[str, Any]) -> str:
    ok, steps = bool(ep.get("success")), int(_num(ep.get("steps")))
    name = f"{_case(ep).replace('/', '__')}.{_attempt(ep)}.jsonl"
    summary = (
        f'<summary><span class="{"yes" if ok else "no"}">{"✓" if ok else "✗"}</span> '
        f"<code>{_e(_case(ep))}</code> · attempt {_attempt(ep)} · {_e(str(ep.get('status', '?')))} "
        f"· {steps} step{'s' * (steps != 1)}</summary>"
    )
    parts = [f'<details id="t-{i}">{summary}<div class="trace">']
    for key in ("error", "answer"):
        if ep.get(key) is not None:
            parts.append(f"<p><b>{key}:</b></p><pre>{_e(_cut(ep[key], TEXT_SHOWN))}</pre>")
    records, bad = _read_jsonl(run.path / "traces" / name)
    if not records:
        parts.append(f'<p class="empty">No trace recorded (<code>traces/{_e(name)}</code>).</p>')
    else:
        head = [
            ("#", "num"),
            ("action", ""),
            ("reasoning", ""),
            ("observation", ""),
            ("reward", "num"),
            ("tokens", "num"),
            ("latency", "num"),
        ]
        shown: list[dict[str, Any] | int] = list(records)
        if len(records) > TRACE_STEPS_SHOWN:
            half = TRACE_STEPS_SHOWN // 2
            shown = [*records[:half], len(records) - 2 * half, *records[-half:]]
        body = []
        for r in shown:
            if isinstance(r, int):
                body.append(
                    f'<tr class="cut"><td colspan="7">… {r:,} steps cut: the first and last {TRACE_STEPS_SHOWN // 2} '
                    f"of {len(records):,} are shown; the whole trace is in <code>traces/{_e(name)}</code></td></tr>"
                )
                continue
            tokens = _num(r.get("prompt_tokens")) + _num(r.get("completion_tokens"))
            body.append(
                f'<tr><td class="num">{_e(str(r.get("step", "")))}</td>'
                + "".join(
                    f'<td class="txt">{_e(_cut(r.get(k), TEXT_SHOWN))}</td>'
                    for k in ("action", "reasoning", "observation")
                )
                + f'<td class="num">{_num(r.get("reward")):g}</td><td class="num">{_si(tokens)}</td>'
                f'<td class="num">{_num(r.get("latency_s")):.2f} s</td></tr>'
            )
        parts.append(_table(head, body, cls="steps"))
        if bad:
            parts.append(
                f'<p class="warn">{bad} unreadable line{"s" * (bad != 1)} of this trace skipped.</p>'
            )
    parts.append('<p><a href="#episodes">↑ back to the episodes</a></p></div></details>')
    return "".join(parts)


def _judges_table(judges: Any) -> str:
    """Agreement of the two rubric judges of a drama run (absent for other suites)."""
    if not isinstance(judges, dict) or not judges.get("by_criterion"):
        return ""

    def cell(x: Any) -> str:
        value = _num(x)
        return _DASH if value != value else f"{value:.2f}"  # nan: undefined for these scores

    rows = [*judges["by_criterion"].items(), ("overall", judges.get("overall") or {})]
    body = "".join(
        f"<tr><td>{_e(str(name))}</td><td>{int(_num(a.get('n')))}</td><td>{cell(a.get('exact'))}</td>"
        f"<td>{cell(a.get('within_one'))}</td><td>{cell(a.get('kappa'))}</td><td>{cell(a.get('spearman'))}</td></tr>"
        for name, a in rows
    )
    who = " and ".join(_e(str(j)) for j in judges.get("judges") or ())
    return (
        f"<h3>Agreement of the judges ({who})</h3><table><thead><tr><th>criterion</th><th>n</th>"
        "<th>exact</th><th>within one</th><th>weighted kappa</th><th>Spearman rho</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def render_report(run_dir: str | PathLike[str]) -> str:
    """The HTML report of the run in ``run_dir``, as a string (see :func:`write_report`).

    Raises:
        ConfigError: ``run_dir`` is not a finished run (it has no ``summary.json``).
    """
    run = _load_run(run_dir)
    m, s = run.meta, run.summary
    episodes = sorted(run.episodes, key=lambda ep: (_case(ep), _attempt(ep)))
    title = " · ".join(str(m.get(k, "?")) for k in ("suite", "agent", "model"))
    facts = [(k, m.get(k)) for k in _FACTS]
    facts.append(("date", _date(m.get("created"))))
    facts.append(("directory", run.path.name))
    meta = "".join(
        f"<div><dt>{_e(k)}</dt><dd>{_e(str(v))}</dd></div>" for k, v in facts if v not in (None, "")
    )
    command = (
        f'<p class="command"><code>{_e(str(m["command"]))}</code></p>' if m.get("command") else ""
    )

    warnings = []
    if run.skipped:
        warnings.append(
            f"{run.skipped} unreadable line{'s' * (run.skipped != 1)} of episodes.jsonl skipped "
            "(a run that was stopped leaves its last line half-written)."
        )
    expected = int(_num((s.get("overall") or {}).get("episodes")))
    if expected and expected != len(run.episodes):
        warnings.append(
            f"summary.json counts {expected} episodes, episodes.jsonl holds {len(run.episodes)} readable ones."
        )
    warn = "".join(f'<p class="warn" role="note">⚠ {_e(w)}</p>' for w in warnings)

    figures = "".join(_charts(run))
    k = _attempts(run)
    tables = _stats_table("By task type", s.get("by_task_type") or {}, "task type", k)
    tables += _stats_table("By split", s.get("by_split") or {}, "split", k)
    tables += _judges_table(s.get("judges"))
    traces = "".join(_trace(run, i, ep) for i, ep in enumerate(episodes))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{_e(title)} · dramaturg eval report</title>
<style>{_CSS}</style></head>
<body>
<header><h1>{_e(title)}</h1><dl class="meta">{meta}</dl>{command}</header>
<main>
{warn}
<section class="kpis" aria-label="overall results">{_kpis(run)}</section>
<section id="charts"><h2>Results</h2><div class="charts">{figures}</div>{tables}</section>
{_metrics_table(run.episodes)}
<section id="episodes"><h2>Episodes ({len(episodes)})</h2>
<p class="hint">Click a column heading to sort; click a case to open its trace.</p>
{_episode_rows(episodes)}</section>
<section id="traces"><h2>Traces</h2>{traces or '<p class="empty">No episode was recorded.</p>'}</section>
</main>
<footer>Written by <code>dramaturg.evals.report</code> from the files of this run. The page is self-contained:
it loads nothing from the network.</footer>
<script>{_JS}</script>
</body></html>
"""


def write_report(run_dir: str | PathLike[str], *, out: str | PathLike[str] | None = None) -> Path:
    """Write the HTML report of an evaluation run and return its path.

    The page is one self-contained file: a header with how the run was made
    and its overall numbers, charts by task type and of steps per episode, a
    sortable table of episodes, and each episode's steps from its trace.

    Args:
        run_dir: the folder ``dramaturg eval run ... --out DIR`` wrote.
        out: where to write the page; ``run_dir/report.html`` by default.

    Raises:
        ConfigError: ``run_dir`` is not a finished run (it has no ``summary.json``).

    Example:
        >>> write_report("runs/alfworld-embodied")  # doctest: +SKIP
        PosixPath('runs/alfworld-embodied/report.html')
    """
    page = render_report(run_dir)
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
