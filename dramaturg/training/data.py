"""Training data for tool agents: (intent, observation, commands) -> the exact command.

Each line of a data file is one chat example::

    {"messages": [...the tool agent's prompt..., {"role": "assistant", "content": "{\\"command\\": \\"go east\\"}"}],
     "game": "textworld/tw-simple/3", "world": "textworld/tw-simple", "source": "gold", "step": 4}

The prompt messages are exactly what a :class:`~dramaturg.agents.ToolAgent`
sends its model at that step (see :mod:`dramaturg.training._games`), so an
adapter trained on them sees at inference what it saw in training.

Examples come from the gold plans of generated games and from the successful
episodes of evaluation runs. Games, not examples, are split into train, valid
and test (written to ``<data>.splits.json``), so no step of a test game is
ever trained on; identical (prompt, answer) pairs are kept once, and a train
example identical to a test one is dropped.

Example:
    >>> summary = build_sft_data(["textworld/tw-simple"], range(10), "data/tw.jsonl")  # doctest: +SKIP
    >>> train = load_sft_data("data/tw.jsonl", split="train")                        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dramaturg._files import InputFileError, iter_lines, load_json, parse_json
from dramaturg.errors import ConfigError
from dramaturg.evals.cases import DatasetError, Suite
from dramaturg.models import Message
from dramaturg.models._prompt import render_prompt
from dramaturg.training._splits import (
    SPLITS,
    assign_games,
    check_splits,
    dedupe,
    load_splits,
    round_robin,
    split_cases,
    splits_path,
    tool_agent_settings,
)

__all__ = [
    "SPLITS",
    "DataSummary",
    "SFTExample",
    "build_sft_data",
    "check_splits",
    "from_traces",
    "load_sft_data",
    "load_splits",
    "rename_objects",
    "rename_targets",
    "split_cases",
    "splits_path",
    "tool_agent_settings",
]

#: A data file's cap: data sets are far bigger than the files people write (each line is capped at 4 MiB).
MAX_DATA_BYTES = 512 * 2**20

_ROLES = ("system", "user", "assistant")
_FIELDS = {"messages", "game", "world", "source", "step"}


@dataclass(frozen=True, kw_only=True)
class SFTExample:
    """One training example: the prompt messages, then the assistant's answer.

    Attributes:
        messages: the prompt, then ``{"role": "assistant", "content": '{"command": ...}'}``.
        game: the game it comes from (what the train/valid/test split is made of).
        world: the world id.
        source: ``gold`` (a gold plan), ``search`` (a gold plan after a search, see
            ``build_sft_data(search=...)``) or ``trace`` (a successful run).
        step: the step of the game.
    """

    messages: list[Message]
    game: str
    world: str = ""
    source: str = "gold"
    step: int = 0

    @property
    def prompt(self) -> list[Message]:
        """The messages the model is given."""
        return self.messages[:-1]

    @property
    def answer(self) -> str:
        """The assistant's answer, ``{"command": "..."}``."""
        return self.messages[-1]["content"]

    @property
    def command(self) -> str:
        return json.loads(self.answer)["command"]

    def key(self) -> tuple[str, str]:
        """What makes two examples duplicates: the rendered prompt and the answer."""
        return render_prompt(self.prompt)[0], self.answer

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "game": self.game,
            "world": self.world,
            "source": self.source,
            "step": self.step,
        }


@dataclass(kw_only=True)
class DataSummary:
    """What :func:`build_sft_data` wrote."""

    path: Path
    splits_path: Path
    games: dict[str, list[str]]
    examples: dict[str, int]
    duplicates: int = 0  # identical (prompt, answer) pairs dropped within a split
    leaks: int = 0  # train/valid examples dropped because a test (or valid) game has the same one
    skipped: int = 0  # gold commands that were not admissible at their step
    failed_games: list[str] = field(
        default_factory=list
    )  # "game id (why)": no win, or a failed world


# ------------------------------------------------------------------ loading
def _example(raw: Any, *, path: Path, line: int) -> SFTExample:
    def bad(problem: str, where: str | None = None) -> DatasetError:
        return DatasetError(problem, path=path, line=line, field=where)

    if not isinstance(raw, dict):
        raise bad(f"a line must be a JSON object, not {type(raw).__name__}")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise bad(f"unknown field (allowed: {', '.join(sorted(_FIELDS))})", unknown[0])
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("missing, or not a non-empty list of chat messages", "messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise bad("a message must be an object with role and content", f"messages[{i}]")
        if msg.get("role") not in _ROLES:
            raise bad(
                f"role must be one of {', '.join(_ROLES)}, got {msg.get('role')!r}",
                f"messages[{i}].role",
            )
        if not isinstance(msg.get("content"), str):
            raise bad("content must be a string", f"messages[{i}].content")
        extra = sorted(set(msg) - {"role", "content", "name"})
        if extra:
            raise bad("a message holds only role, content and name", f"messages[{i}].{extra[0]}")
    last = len(messages) - 1
    if messages[last]["role"] != "assistant":
        raise bad("the last message must be the assistant's answer", f"messages[{last}].role")
    if not any(m["role"] == "user" for m in messages[:last]):
        raise bad("needs at least one user message before the answer", "messages")
    content = messages[last]["content"]
    try:
        answer = json.loads(content)
    except json.JSONDecodeError:
        answer = None
    command = (
        answer.get("command") if isinstance(answer, dict) and set(answer) == {"command"} else None
    )
    if not isinstance(command, str) or not command.strip():
        raise bad(
            f'the answer must be the JSON object {{"command": "<command>"}}, got {content[:80]!r}',
            f"messages[{last}].content",
        )
    if content != json.dumps({"command": command}):
        raise bad(
            f"write the answer exactly as the tool agent's history shows it: "
            f"{json.dumps({'command': command})}",
            f"messages[{last}].content",
        )
    game = raw.get("game")
    if not isinstance(game, str) or not game.strip():
        raise bad("missing: the game the example comes from (the split is made by game)", "game")
    for name in ("world", "source"):
        if name in raw and not isinstance(raw[name], str):
            raise bad("must be a string", name)
    if "step" in raw and (not isinstance(raw["step"], int) or isinstance(raw["step"], bool)):
        raise bad("must be an integer", "step")
    return SFTExample(
        messages=messages,
        game=game,
        world=raw.get("world", ""),
        source=raw.get("source", "gold"),
        step=raw.get("step", 0),
    )


def load_sft_data(path: str | os.PathLike[str], *, split: str | None = None) -> list[SFTExample]:
    """Read a data file; with ``split``, only that split's games (from ``<data>.splits.json``).

    Raises:
        DatasetError: for a broken line, naming the line and the field.
        ConfigError: for a missing or inconsistent splits file.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training data not found: {path}")
    examples = []
    # Streamed with a cap per line (and a larger one for the file: data sets are big); a binary
    # or deeply nested line is a DatasetError naming the line, not a traceback.
    try:
        for n, text in iter_lines(path, max_bytes=MAX_DATA_BYTES):
            if not text.strip():
                continue
            try:
                raw = parse_json(text, label=f"{path} line {n}")
            except json.JSONDecodeError as exc:
                raise DatasetError(
                    f"not JSON ({exc.msg} at column {exc.colno})", path=path, line=n
                ) from None
            example = _example(raw, path=path, line=n)
            examples.append((n, example))
    except InputFileError as exc:
        raise DatasetError(exc.problem, path=exc.label) from None
    if split is None:
        return [e for _, e in examples]
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    splits = load_splits(path)
    listed = {g for games in splits.values() for g in games}
    for n, e in examples:
        if e.game not in listed:
            raise DatasetError(
                f"game {e.game!r} is in no split of {splits_path(path).name}",
                path=path,
                line=n,
                field="game",
            )
    wanted = set(splits[split])
    return [e for _, e in examples if e.game in wanted]


# ------------------------------------------------------------------ building
def _agent(**settings: int) -> Any:
    from dramaturg.agents.tool_agent import ToolAgent

    # Only ToolAgent.prompt is used; the model is never called.
    return ToolAgent(model=None, **settings)  # type: ignore[arg-type]


def from_traces(
    run_dir: str | os.PathLike[str],
    *,
    suite: Suite | None = None,
    history_turns: int = 6,
    max_observation_chars: int = 600,
    recap: int = 0,
    focus: int = 0,
) -> list[SFTExample]:
    """Examples from the successful world episodes of an evaluation run directory.

    Each won episode is replayed in its world (the trace does not hold the
    admissible commands of each step), using the goal the tool agent had
    (a planner's intent, recorded as the step's reasoning, or the world's
    objective). An episode whose replay differs from its trace is skipped.

    Args:
        run_dir: a ``run_eval`` output directory.
        suite: the suite that was run; needed unless it was a built-in world suite
            with its default options.
        history_turns, max_observation_chars, recap, focus: the tool agent's settings.
    """
    from dramaturg.evals.runner import read_episodes
    from dramaturg.training._games import case_for_game, play_commands

    run_dir = Path(run_dir)
    run_file = run_dir / "run.json"
    if not run_file.is_file():
        raise ConfigError(f"{run_dir} is not an evaluation run directory (no run.json)")
    by_id = {c.id: c for c in suite.cases} if suite is not None else {}
    if suite is None:
        meta = load_json(run_file)
        name = meta.get("suite") if isinstance(meta, dict) else None
        if name not in ("alfworld-style", "textworld"):
            raise ConfigError(
                f"{run_dir} ran the suite {name!r}; pass suite= (the Suite that was run) to "
                "replay its games"
            )
    agent = _agent(
        history_turns=history_turns,
        max_observation_chars=max_observation_chars,
        recap=recap,
        focus=focus,
    )
    out: list[SFTExample] = []
    for episode in read_episodes(run_dir):
        if episode.get("status") != "done" or not episode.get("success"):
            continue
        case = by_id.get(episode["case_id"]) or case_for_game(
            episode["case_id"], seed=episode.get("seed")
        )
        if case.kind != "world":
            continue
        trace = run_dir / "traces" / f"{case.slug}.{episode.get('attempt', 0)}.jsonl"
        if not trace.is_file():
            continue
        steps = [
            json.loads(line)
            for line in trace.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        if any("action" not in s for s in steps) or any(
            s.get("error") or not s["action"] for s in steps
        ):
            continue  # a crashed episode, or a step without a command
        played = play_commands(
            case,
            [s["action"] for s in steps],
            agent=agent,
            source="trace",
            goals=[s.get("reasoning") or "" for s in steps],
            observations=[s.get("observation", "") for s in steps],
        )
        if played.won and not played.diverged:
            out += [SFTExample(**r) for r in played.examples]
    return out


NONCE_WORDS = (
    "blicket",
    "dax",
    "wug",
    "toma",
    "fep",
    "zibble",
    "kiki",
    "modi",
    "lorp",
    "gazzer",
    "tupa",
    "nefo",
    "snib",
    "plonkit",
    "vorka",
    "jeb",
    "mipsy",
    "rellock",
    "dorb",
    "fiddick",
    "quell",
    "brisp",
    "yarrow",
    "tibble",
    "skree",
    "mondle",
    "gorp",
    "wemble",
    "chaff",
    "zorn",
    "pilk",
    "drell",
    "hobbin",
    "swint",
    "cruddle",
    "lumsy",
    "varp",
    "nimbet",
    "frotch",
    "oskel",
)
"""Made-up object names for :func:`rename_objects` (no ALFWorld type is among them)."""


def rename_targets(examples: list[SFTExample], share: float, *, seed: int = 0) -> list[SFTExample]:
    """``examples`` with every object that can be taken renamed (:func:`rename_objects`)
    in about ``share`` of their games, each drawn with ``seed``, with words of its own."""
    by_game: dict[str, list[SFTExample]] = {}
    for e in examples:
        by_game.setdefault(e.game, []).append(e)
    out: list[SFTExample] = []
    for game, group in by_game.items():
        rng = random.Random(f"{seed}/rename/{game}")
        out += rename_objects(group, rng) if rng.random() < share else group
    return out


def rename_objects(examples: list[SFTExample], rng: random.Random) -> list[SFTExample]:
    """A game's examples with each object type that can be taken anywhere in it
    (``take X n from ...`` among the commands or answers) renamed to its own
    made-up word from :data:`NONCE_WORDS`, in every message: goal, observations,
    commands and answers.

    The object to take and the ones beside it are all renamed, so the only way
    to tell which one to take is to read the goal: no object type is learnt as
    "the one that is taken" or "the one that is never taken", which is what
    games with new object types (ALFWorld-style unseen) ask for. Games with no
    object to take come back unchanged.
    """
    things = sorted({thing for e in examples for thing in _takeable(e)})
    if not things:
        return examples
    if len(things) > len(NONCE_WORDS):
        raise ConfigError(
            f"{examples[0].game}: {len(things)} object types to rename, "
            f"more than the {len(NONCE_WORDS)} made-up words"
        )
    words = dict(zip(things, rng.sample(NONCE_WORDS, len(things)), strict=True))
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, things)) + r")\b")
    return [
        dataclasses.replace(
            e,
            messages=[
                {**m, "content": pattern.sub(lambda w: words[w.group(1)], m["content"])}
                for m in e.messages
            ],
        )
        for e in examples
    ]


def _takeable(example: SFTExample) -> set[str]:
    """The objects ``example`` offers to take: in its answer and its listed commands."""
    from dramaturg.agents.tool_agent import COMMANDS
    from dramaturg.training._games import TAKE

    listed = [
        line.removeprefix(COMMANDS).split(", ")
        for m in example.messages
        for line in m["content"].splitlines()
        if line.startswith(COMMANDS)
    ]
    commands = [example.command, *(c for line in listed for c in line)]
    return {m.group(2) for c in commands if (m := TAKE.fullmatch(c))}


def _play_game(
    case: Any, *, search: int, split_seed: int, **settings: int
) -> tuple[str, list[dict[str, Any]], int, str | None]:
    """One game's examples: ``(case id, records, skipped steps, why it failed or None)``."""
    from dramaturg.training._games import play_commands, searching_plan
    from dramaturg.worlds.base import WorldError

    agent = _agent(**settings)
    try:
        plan = None
        if search > 0 and (case.world or "").startswith("alfworld/"):
            rng = random.Random(f"{split_seed}/{case.id}")
            detours = rng.randint(0, search)
            plan = (
                searching_plan(case, detours=detours, seed=rng.randrange(1 << 30))
                if detours
                else None
            )
        played = play_commands(case, plan, agent=agent, source="gold" if plan is None else "search")
        if plan is not None and not played.won:  # the search changed the game: keep the gold plan
            played = play_commands(case, None, agent=agent, source="gold")
    except WorldError as exc:
        return case.id, [], 0, f"world failed: {exc}"
    if not played.won:
        return case.id, [], played.skipped, "the gold plan did not win"
    return case.id, played.examples, played.skipped, None


def _play_all(
    cases: list[Any], workers: int | None, progress: bool, **settings: Any
) -> list[tuple[str, list[dict[str, Any]], int, str | None]]:
    """:func:`_play_game` for every case, in the cases' order, on ``workers`` processes."""
    import functools
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from rich.progress import track

    play = functools.partial(_play_game, **settings)
    workers = min(len(cases), workers or os.cpu_count() or 1)
    if workers <= 1:
        return [play(case) for case in track(cases, description="gold plans", disable=not progress)]
    # spawn: the caller may have imported torch or started threads, which fork does not survive
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        results = pool.map(play, cases)
        return list(
            track(results, total=len(cases), description="gold plans", disable=not progress)
        )


def build_sft_data(
    worlds: Sequence[str],
    seeds: Iterable[int],
    out_path: str | os.PathLike[str],
    *,
    splits: Sequence[str] = ("seen", "unseen"),
    test_split: str | None = None,
    traces: Sequence[str | os.PathLike[str]] = (),
    test_frac: float = 0.2,
    valid_frac: float = 0.1,
    split_seed: int = 0,
    history_turns: int = 6,
    max_observation_chars: int = 600,
    recap: int = 0,
    focus: int = 0,
    search: int = 0,
    rename: float = 0.0,
    test_games: int | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> DataSummary:
    """Play the gold plans of games (and replay successful runs) into a data file.

    Args:
        worlds: world ids or families (see :func:`~dramaturg.training._games.games_for`).
        seeds: the game seeds of each world.
        out_path: the JSONL file to write; the game splits go to ``<out>.splits.json``.
        splits: the ALFWorld-style splits to generate games from.
        test_split: hold out every game of this ALFWorld-style split for test
            (``"unseen"``: train on seen floor plans and objects, test on unseen
            ones); the other games are shared by train and valid only.
        traces: evaluation run directories whose won world episodes are added
            (with their own games, which are split like the others).
        test_frac, valid_frac: the share of games held out for test and valid
            (at least one game each when there are two games or more).
        split_seed: seeds the assignment of games to splits.
        history_turns, max_observation_chars, recap, focus: the tool agent's settings
            (see :class:`~dramaturg.agents.ToolAgent`); they are kept in the splits
            file, and ``train eval`` plays with the same ones.
        search: ALFWorld-style games: for each thing the gold plan takes or
            uses (the object, the lamp, the second object), search places not yet
            visited in a random order until one shows such a thing, take or use
            that one and go on with it, as an agent that cannot see where things
            lie must (see :func:`~dramaturg.training._games.searching_plan`); after
            0 to ``search`` places (a number drawn per game) without it, go to
            where the gold plan finds it. A game whose search no longer wins keeps
            its plain gold plan.
        rename: the share of train and valid games (drawn per game with
            ``split_seed``) whose objects that can be taken are each renamed to a
            made-up word in every message (see :func:`rename_objects`): the agent
            learns to take what the goal names, not the object types it saw taken
            (or never saw taken), which is what ALFWorld-style unseen games (new
            target types) ask for.
        test_games: with ``test_split``, play only this many of its games (one
            task type in turn), when the comparison will not use more.
        workers: processes playing games side by side (``None``: one per CPU core;
            1: in this process). Each game's world runs in its own engine process
            either way.
        progress: show a progress bar.

    A game whose world fails (an engine that crashes or stops answering) is
    left out and listed in ``failed_games`` with the reason; the others are kept.
    """
    from dramaturg.agents.tool_agent import check_settings
    from dramaturg.training._games import games_for

    settings = check_settings(
        {
            "history_turns": history_turns,
            "max_observation_chars": max_observation_chars,
            "recap": recap,
            "focus": focus,
        },
        "build_sft_data",
    )  # before any game is played
    out_path = Path(out_path)
    cases = games_for(worlds, seeds, splits=splits)
    if test_split is not None and test_games is not None:
        held = [c for c in cases if f"/{test_split}/" in c.id]
        kept = {c.id for c in round_robin(held, test_games)}
        cases = [c for c in cases if c.id in kept or f"/{test_split}/" not in c.id]
    by_game: dict[str, list[SFTExample]] = {}
    failed: list[str] = []
    skipped = 0
    played = _play_all(cases, workers, progress, search=search, split_seed=split_seed, **settings)
    for case_id, examples, game_skipped, problem in played:
        skipped += game_skipped
        if problem is not None:
            failed.append(f"{case_id} ({problem})")
            continue
        by_game[case_id] = [SFTExample(**r) for r in examples]
    known = {c.id: c for c in cases}
    for run_dir in traces:
        for example in from_traces(run_dir, **settings):
            by_game.setdefault(example.game, []).append(example)
    if not by_game:
        raise ConfigError(
            f"no game produced any example (failed: {failed[:5]}); check the world ids and seeds"
        )
    if test_split is not None:
        held = sorted(g for g in by_game if f"/{test_split}/" in g)
        if not held:
            raise ConfigError(
                f"no game of the {test_split!r} split to hold out; add it to the splits "
                f"(--split {test_split})"
            )
        rest = [g for g in by_game if g not in set(held)]
        games = assign_games(rest, test_frac=0.0, valid_frac=valid_frac, seed=split_seed)
        games["test"] = held
    else:
        games = assign_games(
            list(by_game), test_frac=test_frac, valid_frac=valid_frac, seed=split_seed
        )
    check_splits(games)
    by_split = {name: [e for g in games[name] for e in by_game[g]] for name in SPLITS}
    by_split, duplicates, leaks = dedupe(by_split)
    if rename > 0:
        for name in ("train", "valid"):
            by_split[name] = rename_targets(by_split[name], rename, seed=split_seed)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    _write_lines(out_path, [e.to_json() for name in SPLITS for e in by_split[name]])
    cases_json = {
        g: known[g].model_dump(mode="json", exclude_defaults=True) for g in by_game if g in known
    }
    _write_text(
        splits_path(out_path),
        json.dumps(
            {
                "version": 1,
                "data": out_path.name,
                **games,
                "cases": cases_json,
                "tool_agent": settings,
            },
            indent=1,
        )
        + "\n",
    )
    return DataSummary(
        path=out_path,
        splits_path=splits_path(out_path),
        games=games,
        examples={name: len(by_split[name]) for name in SPLITS},
        duplicates=duplicates,
        leaks=leaks,
        skipped=skipped,
        failed_games=failed,
    )


def _write_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    _write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
