"""The adapters that ship with dramaturg against the base model, on held-out games, in one run.

    python benchmarks/bench_shipped.py --work runs/bench-shipped
        # TextWorld tw-simple and tw-cooking, 20 games each (seeds 0-19; the shipped adapter
        # was trained on seeds 1000 and up), base model then shipped adapter (about 90 minutes
        # on 2 cores; every run resumes)
    python benchmarks/bench_shipped.py --work runs/bench-shipped --dagger runs/alf
        # also the per-round table of a DAgger run (`dramaturg train dagger runs/alf`)
    python benchmarks/bench_shipped.py --work runs/bench-alf --world alfworld-style --n 8 \
        --max-steps 40
        # ALFWorld-style unseen split, 8 games per task type (48; the shipped adapter was
        # trained on the seen split), base model then shipped adapter (about 60 minutes)

Both runs are ordinary ``dramaturg eval run`` commands on the same cases with the
same seeds and settings: ``--no-adapter`` for the base model, the defaults for the
shipped adapter (what a user gets). The base model plays with the tool agent settings
the shipped adapter records (``--tool-agent``): the same prompts, only the weights
differ. The gain is tested with the evaluation's own
paired comparison (``dramaturg eval compare``: exact McNemar on the shared games),
and the table gives each challenge's rate with its standard error, the steps
played, and the share of commands the model wrote valid by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _results import write_section

from dramaturg.evals import builtin_suite
from dramaturg.evals.compare import compare
from dramaturg.evals.suites import TEXTWORLD_LEVELS
from dramaturg.models.adapters import SHIPPED_DIR, adapter_settings, best_key, shipped_adapters
from dramaturg.training.evaluate import step_stats

DEFAULT_CHALLENGES = ["tw-simple", "tw-cooking"]


def dramaturg(*args: str, home: Path) -> str:
    # A home of its own: the user's registered adapters must not stand in for the shipped ones.
    env = {k: v for k, v in os.environ.items() if k != "DRAMATURG_NO_SHIPPED_ADAPTERS"}
    env["DRAMATURG_HOME"] = str(home)
    subprocess.run([sys.executable, "-m", "dramaturg", *args], check=True, env=env)
    return shlex.join(["dramaturg", *args])


def textworld_cases(
    work: Path, challenges: list[str], n: int, seed: int, *, name: str = "textworld-heldout"
) -> Path:
    """The held-out games as a suite file (the built-in suite's cases for these challenges)."""
    suite = builtin_suite(
        "textworld", n=n, seed=seed, levels={c: TEXTWORLD_LEVELS[c] for c in challenges}
    )
    path = work / f"{name}.jsonl"
    path.write_text("".join(c.model_dump_json() + "\n" for c in suite.cases))
    return path


def alfworld_cases(work: Path, n: int, seed: int) -> Path:
    """The unseen split's games as a suite file (the built-in suite's cases)."""
    suite = builtin_suite("alfworld-style", n=n, seed=seed, splits=("unseen",))
    path = work / "alfworld-unseen.jsonl"
    path.write_text("".join(c.model_dump_json() + "\n" for c in suite.cases))
    return path


def fisher_greater(a_won: int, a_n: int, b_won: int, b_n: int) -> float:
    """One-sided Fisher exact test: P(A wins at least a_won) given the margins (A better than B)."""
    from math import comb

    won = a_won + b_won
    total = comb(a_n + b_n, won)
    return sum(comb(a_n, k) * comb(b_n, won - k) for k in range(a_won, min(a_n, won) + 1)) / total


def dagger_table(run: Path) -> list[str]:
    rows = json.loads((run / "dagger" / "rounds.json").read_text())["rounds"]
    lines = [
        "| round | expert share | train games won (mix) | agreement | examples added | trained on "
        "| training min | valid loss | held-out success | own valid commands |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        vl = f"{r['valid_loss']:.3f}" if r["valid_loss"] is not None else "-"
        lines.append(
            f"| {r['round']} | {r['beta']:.2f} | "
            + (f"{r['played_success']:.0%} of {r['games']}" if r["games"] else "-")
            + f" | {r['agreement']:.0%} | {r['added']} | {r['examples']} | {r['train_minutes']:.1f} | {vl} | "
            f"**{r['heldout_success']:.0%}** ± {r['heldout_stderr']:.0%} ({r['heldout_games']}) | "
            f"{r['own_valid']:.1%} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, required=True, help="run folders")
    parser.add_argument(
        "--world",
        choices=["textworld", "alfworld-style"],
        default="textworld",
        help="TextWorld challenges, or the ALFWorld-style unseen split",
    )
    parser.add_argument("--n", type=int, default=20, help="games per challenge (task type)")
    parser.add_argument(
        "--base-n",
        type=int,
        default=None,
        help="games per challenge for the base model (default --n)",
    )
    parser.add_argument("--seed", type=int, default=0, help="first game's seed")
    parser.add_argument(
        "--challenge", action="append", default=None, help="TextWorld challenge (repeatable)"
    )
    parser.add_argument("--max-steps", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dagger", type=Path, default=None, help="a DAgger run folder")
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    alfworld = args.world == "alfworld-style"
    challenges = args.challenge or DEFAULT_CHALLENGES
    base_n = args.base_n or args.n
    if alfworld:
        if args.challenge or base_n != args.n:
            parser.error("--challenge and --base-n are for TextWorld")
        suite = base_suite = alfworld_cases(work, args.n, args.seed)
    else:
        suite = textworld_cases(work, challenges, args.n, args.seed)
        base_suite = (
            textworld_cases(work, challenges, base_n, args.seed, name="textworld-heldout-base")
            if base_n != args.n
            else suite
        )
    # the shipped adapter that serves each case's world, as the registry picks it
    by_key = {a.key: a for a in shipped_adapters(SHIPPED_DIR)}
    serving = {}
    for line in suite.read_text().splitlines():
        key = best_key(by_key, json.loads(line)["world"])
        if key is not None:
            serving.setdefault(key, by_key[key])
    # the base model gets the prompts the adapter plays with (one adapter's settings)
    recorded = {json.dumps(adapter_settings(a.path), sort_keys=True) for a in serving.values()}
    same_prompts = json.loads(recorded.pop()) if len(recorded) == 1 else {}
    base_extra = ["--no-adapter"]
    for k, v in same_prompts.items():
        base_extra += ["--tool-agent", f"{k}={v}"]
    common = [
        "--agent", "react", "--model", "local",
        "--max-steps", str(args.max_steps), "--workers", str(args.workers), "--no-progress",
    ]  # fmt: skip
    runs = {}
    commands = {}
    for label, cases, extra in (
        ("shipped adapter", suite, []),
        ("base", base_suite, base_extra),
    ):
        out = work / label.replace(" ", "-")
        cmd = dramaturg(
            "eval", "run", str(cases), *common, *extra, "--out", str(out), home=work / "home"
        )
        commands[label] = cmd.replace(str(work), "WORK")
        runs[label] = out
    compared = compare(runs["base"], runs["shipped adapter"])
    stats = {label: step_stats(out) for label, out in runs.items()}
    summaries = {
        label: json.loads((out / "summary.json").read_text()) for label, out in runs.items()
    }
    default = not alfworld and challenges == DEFAULT_CHALLENGES
    seeds = f"seeds {args.seed}-{args.seed + args.n - 1}"
    if alfworld:
        title, what, heldout = (
            ": ALFWorld-style unseen",
            f"ALFWorld-style, unseen split: {args.n} games per task type ({seeds}; new floor "
            "plans and object types)",
            "the shipped adapter's data came from the seen split",
        )
    else:
        title, what, heldout = (
            "" if default else f": {', '.join(challenges)}",
            f"TextWorld {', '.join(challenges)}: {args.n} games each ({seeds})",
            "the shipped adapters' data came from seeds 1000 and up",
        )
    prompts = (
        "The base model plays with the settings the adapter records ("
        + ", ".join(f"{k} {v}" for k, v in same_prompts.items())
        + "): the same prompts, other weights. "
        if same_prompts
        else ""
    )
    lines = [
        "## Shipped adapters against the base model (held-out games, one run)" + title,
        "",
        f"{what}; {heldout}. The `react` agent on `local`, "
        f"{args.max_steps} steps, the tool agent's default temperature (0.7, each game its own seed). "
        + prompts
        + "*Own valid*: commands the model wrote as a valid answer by itself, before any grammar forced the shape.",
        "",
        f"| {'task type' if alfworld else 'challenge'} | model | games | success | steps per game | own valid | tokens/step | s/step |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label in runs:
        groups = summaries[label].get("by_task_type", {})
        for name, row in [*sorted(groups.items()), ("overall", summaries[label]["overall"])]:
            lines.append(
                f"| {name} | {label} | {row.get('episodes', row.get('n'))} | "
                f"**{row['success_rate']:.0%}** ± {row.get('stderr', 0):.0%} | "
                f"{row.get('mean_steps', 0):.1f} | "
                + (
                    f"{stats[label]['free_valid_rate']:.1%} | {stats[label]['completion_tokens']:.1f} | "
                    f"{stats[label]['latency_s']:.2f} |"
                    if name == "overall"
                    else "| | |"
                )
            )
    won = {k: v["overall"]["successes"] for k, v in summaries.items()}
    played = {k: v["overall"]["episodes"] for k, v in summaries.items()}
    p = fisher_greater(
        won["shipped adapter"], played["shipped adapter"], won["base"], played["base"]
    )
    lines += [
        "",
        f"All episodes: shipped adapter {won['shipped adapter']} of {played['shipped adapter']}, "
        f"base {won['base']} of {played['base']}; one-sided Fisher exact test p = {p:.2g}.",
        "",
        compared.to_markdown(),
        "",
        "Commands:",
        "",
    ]
    lines += [f"- {label}: `{cmd}`" for label, cmd in commands.items()]
    for key, adapter in serving.items():
        lines += [
            "",
            f"The shipped adapter for `{key}` (`{adapter.path.name}`, "
            f"{adapter.path.stat().st_size / 1e6:.1f} MB) was trained by `{adapter.recipe}` "
            f"({adapter.training.get('examples')} examples, {adapter.training.get('steps')} steps, "
            f"{adapter.training.get('minutes')} min on {adapter.training.get('device')}).",
        ]
    if args.dagger is not None:
        lines += ["", "### DAgger rounds", "", *dagger_table(args.dagger)]
    # one section per set of challenges: each adapter keeps the run that measured it
    write_section(
        "bench_shipped"
        if default
        else "bench_shipped_" + ("alfworld-style" if alfworld else "_".join(challenges)),
        "\n".join(lines),
    )


if __name__ == "__main__":
    main()
