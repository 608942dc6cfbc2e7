"""On-policy training data (DAgger): play a policy, and label every state it reaches with an expert's command.

Behaviour cloning teaches the states a gold plan passes through; a tool agent
that strays once (takes the wrong mug, walks to the wrong table) is then in a
state it never saw. DAgger (Ross et al., 2011) plays the current policy (the
adapter being trained) and asks an expert, at each state the policy reaches,
what it would do there; those examples are added to the data and the adapter is
trained again. The expert here knows only what the agent could know on
ALFWorld-style games (:func:`~dramaturg.training.expert.alfworld_expert`) and
replans from the current state on TextWorld games
(:func:`~dramaturg.training.expert.textworld_expert`).

Each example is the tool agent's prompt at a state the policy reached, answered
with the expert's command, in the record shape :func:`~dramaturg.training.build_sft_data`
writes (``source="dagger"``).

Example:
    >>> data = dagger_examples(cases, tool_agent_policy(agent), beta=0.5, seed=1)  # doctest: +SKIP
    >>> write_sft_data("round1.jsonl", [SFTExample(**r) for r in data.examples])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dramaturg.errors import ConfigError
from dramaturg.training.expert import alfworld_expert, textworld_expert

if TYPE_CHECKING:
    from dramaturg.agents.tool_agent import ToolAgent
    from dramaturg.evals.cases import Case

__all__ = [
    "DaggerData",
    "DaggerGame",
    "ModelPolicy",
    "Policy",
    "dagger_examples",
    "tool_agent_policy",
]

Policy = Callable[[str, Sequence[tuple[str, str]], str, Sequence[str] | None], str]
"""``act(goal, history, observation, admissible) -> command``; ``history`` holds the
(observation, command played from it) turns so far, as a tool agent keeps them."""


@dataclass(kw_only=True)
class DaggerGame:
    """How one game went under the policy."""

    game: str
    won: bool
    steps: int  # commands played
    labelled: int  # states the expert labelled (one example each)
    asked: int  # states where the policy was asked (not replaced by the expert, see ``beta``)
    agreed: int  # of those, the states where the policy chose the expert's command
    error: str | None = None  # the world failed


@dataclass(kw_only=True)
class DaggerData:
    """What :func:`dagger_examples` collected."""

    examples: list[dict[str, Any]]  # SFT records, game by game, step by step
    games: list[DaggerGame]

    @property
    def success(self) -> float:
        """The share of games the played mix (policy and, with ``beta``, expert) won."""
        return sum(g.won for g in self.games) / len(self.games) if self.games else 0.0

    @property
    def agreement(self) -> float:
        """The share of the policy's choices that were the expert's."""
        asked = sum(g.asked for g in self.games)
        return sum(g.agreed for g in self.games) / asked if asked else 0.0


def tool_agent_policy(agent: ToolAgent) -> Policy:
    """``agent`` as a :data:`Policy` (each call runs its ``command`` to the end in a new event
    loop, so call it outside a running one)."""
    import asyncio

    def act(
        goal: str, history: Sequence[tuple[str, str]], observation: str, admissible: Any
    ) -> str:
        return asyncio.run(
            agent.command(
                goal=goal, observation=observation, history=history, admissible=admissible
            )
        )

    return act


class ModelPolicy:
    """The tool agent on a model spec (``local?lora=ADAPTER``) as a picklable :data:`Policy`:
    what worker processes play with. The model is loaded at the first call, in the
    process that plays; the tool agent is prompted with the settings its adapter was
    trained with, then ``settings``.

    Args:
        spec: the model spec.
        temperature: the tool agent's sampling temperature.
        seed: its sampling seed.
        settings: tool agent settings that win over the adapter's.
    """

    def __init__(
        self, spec: str, *, temperature: float = 0.7, seed: int = 0, **settings: int
    ) -> None:
        self.spec, self.temperature, self.seed, self.settings = spec, temperature, seed, settings
        self._act: Policy | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_act": None}  # the loaded model stays in its process

    def __call__(
        self, goal: str, history: Sequence[tuple[str, str]], observation: str, admissible: Any
    ) -> str:
        if self._act is None:
            from dramaturg.agents.tool_agent import tool_agent_for

            agent = tool_agent_for(
                self.spec, temperature=self.temperature, seed=self.seed, **self.settings
            )
            self._act = tool_agent_policy(agent)
        return self._act(goal, history, observation, admissible)


def dagger_examples(
    cases: Iterable[Case | str],
    act: Policy,
    *,
    beta: float = 0.0,
    seed: int = 0,
    max_steps: int = 50,
    history_turns: int = 6,
    max_observation_chars: int = 600,
    recap: int = 0,
    focus: int = 0,
    notes: int = 0,
    prior: bool = True,
    source: str = "dagger",
    workers: int = 1,
    on_game: Callable[[DaggerGame], None] | None = None,
) -> DaggerData:
    """Play each case with ``act``; label each state it reaches with the expert's command.

    Args:
        cases: ALFWorld-style or TextWorld games (cases, or game ids such as
            ``alfworld/pick_and_place_simple/unseen/3``).
        act: the policy that plays (the adapter being trained, see :func:`tool_agent_policy`).
        beta: the share of steps (drawn per step, seeded by ``seed`` and the game)
            on which the expert's command is played instead of the policy's: DAgger's
            mixing, 1 in its first round, falling after.
        seed: seeds the mixing.
        max_steps: the most commands one game plays (the world may stop sooner).
        history_turns, max_observation_chars, recap, focus, notes: the tool agent's prompt
            settings, as in :func:`~dramaturg.training.build_sft_data`.
        prior: the ALFWorld-style expert searches first where such things are kept
            (see :func:`~dramaturg.training.expert.alfworld_expert`).
        source: the records' ``source``.
        workers: processes playing games side by side (each loads its own model:
            ``act`` must be picklable, a :class:`ModelPolicy`); 1 plays here.
        on_game: called with each game as it ends (a progress bar).

    Returns:
        The examples (the prompt the tool agent had at each state the play reached,
        answered with the expert's command; states the expert cannot label give none)
        and how each game went.

    Raises:
        ConfigError: a case of a world without an expert, or a bad setting.
    """
    from dramaturg.training._games import case_for_game, prompt_agent

    if not 0.0 <= beta <= 1.0:
        raise ConfigError(f"beta is a probability between 0 and 1, not {beta!r}")
    agent = prompt_agent(
        history_turns=history_turns,
        max_observation_chars=max_observation_chars,
        recap=recap,
        focus=focus,
        notes=notes,
    )
    chosen = [case_for_game(c) if isinstance(c, str) else c for c in cases]
    for case in chosen:
        if not (case.world or "").startswith(("alfworld/", "textworld/")):
            raise ConfigError(
                f"{case.id}: no expert for the world {case.world!r}; DAgger data comes from "
                "ALFWorld-style (alfworld/...) and TextWorld (textworld/...) games"
            )
    options = {"beta": beta, "seed": seed, "max_steps": max_steps, "prior": prior, "source": source}
    if workers > 1 and len(chosen) > 1:
        played: Iterable[tuple[list[dict[str, Any]], DaggerGame]] = _side_by_side(
            chosen, act, agent, workers, options
        )
    else:
        played = (_play(case, act, agent=agent, **options) for case in chosen)
    data = DaggerData(examples=[], games=[])
    for examples, game in played:  # in the cases' order, whatever order they end in
        data.examples += examples
        data.games.append(game)
        if on_game is not None:
            on_game(game)
    return data


def _side_by_side(
    chosen: list[Case], act: Policy, agent: ToolAgent, workers: int, options: dict[str, Any]
) -> Iterator[tuple[list[dict[str, Any]], DaggerGame]]:
    """The games played in spawned worker processes, yielded in the cases' order."""
    import pickle
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    try:
        pickle.dumps(act)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"workers > 1 play in other processes: pass a picklable policy (ModelPolicy), not {act!r} ({exc})"
        ) from None
    n = min(workers, len(chosen))
    # Each process's model gets its share of the cores: llama.cpp threads that outnumber
    # them wait at a spinning barrier (see dramaturg.models.local.default_threads).
    threads = os.environ.get("DRAMATURG_THREADS") or str(max(1, (os.cpu_count() or 1) // n))
    # spawn: the caller may have imported torch or started threads, which fork does not survive
    with ProcessPoolExecutor(
        max_workers=n,
        mp_context=get_context("spawn"),
        initializer=_set_threads,
        initargs=(threads,),
    ) as pool:
        futures = [pool.submit(_play, case, act, agent=agent, **options) for case in chosen]
        try:
            for future in futures:
                yield future.result()
        except BaseException:
            pool.shutdown(cancel_futures=True)  # a failure does not wait for every game
            raise


def _set_threads(threads: str) -> None:
    os.environ["DRAMATURG_THREADS"] = threads


def _play(
    case: Case,
    act: Policy,
    *,
    agent: ToolAgent,
    beta: float,
    seed: int,
    max_steps: int,
    prior: bool,
    source: str,
) -> tuple[list[dict[str, Any]], DaggerGame]:
    """One game played by ``act`` (mixed with the expert), labelled by the expert."""
    from dramaturg.evals.agents import make_case_world
    from dramaturg.training._games import example_record
    from dramaturg.worlds.base import WorldError

    textworld = (case.world or "").startswith("textworld/")
    if textworld:  # TextWorld replans from the current state on each step for its expert
        case = case.model_copy(
            update={"world_kwargs": {**case.world_kwargs, "policy_commands": True}}
        )
    rng = random.Random(f"{seed}/{case.id}")
    records: list[dict[str, Any]] = []
    game = DaggerGame(game=case.id, won=False, steps=0, labelled=0, asked=0, agreed=0)
    try:
        with make_case_world(case) as world:
            obs, info = world.reset(seed=case.seed, options=case.options or None)
            goal = str(info.get("objective") or obs)
            history: list[tuple[str, str]] = []
            for step in range(max_steps):
                admissible = info.get("admissible_actions")
                label = (
                    textworld_expert(info, admissible)
                    if textworld
                    else alfworld_expert(goal, history, obs, admissible or [], prior=prior)
                )
                if label is not None:
                    records.append(
                        example_record(
                            agent,
                            case,
                            goal=goal,
                            observation=obs,
                            history=history,
                            admissible=admissible,
                            command=label,
                            source=source,
                            step=step,
                        )
                    )
                    game.labelled += 1
                if rng.random() < beta and label is not None:
                    command = label
                else:
                    command = act(goal, list(history), obs, admissible)
                    game.asked += 1
                    game.agreed += command == label
                history.append((obs, command))
                obs, _, terminated, truncated, info = world.step(command)
                game.steps += 1
                if terminated or truncated:
                    break
            game.won = bool(info.get("won"))
    except WorldError as exc:
        game.error = str(exc)
    return records, game
