"""The agents an evaluation compares, and how each plays one case.

An :class:`AgentSpec` is a small picklable description (a kind and a model
spec), so the same spec runs in this process, in worker processes and on Ray
workers. Each process loads a model spec once and reuses it.

Kinds:

* ``random``: uniform among admissible commands; for a question, a word of
  the question. The floor every rate is reported against.
* ``oracle``: the world's gold plan; for a question, the key. The ceiling
  (it must win everything; a miss means a broken world or scorer).
* ``react``: for a world, the tool agent alone (the ``embodied`` graph with no
  planner and no critic); for a question, one worker with tools (files,
  sandboxed Python, the local web site).
* ``embodied``: planner, tool agent and critic in a world.
* ``workforce``: planner, workers with tools and critic, for questions.
* ``drama``: the drama graph playing every character (``--auto``), for drama
  cases.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dramaturg._untrusted import injection_signs
from dramaturg.errors import ConfigError
from dramaturg.evals.cases import Case
from dramaturg.models._redact import redact_spec

__all__ = [
    "AGENT_KINDS",
    "AgentSpec",
    "EpisodeOutput",
    "StepRecord",
    "tool_agent_settings_for",
    "tool_model_for",
    "trained_on",
]

AGENT_KINDS = ("random", "oracle", "react", "embodied", "workforce", "drama")
_NEEDS_MODEL = {"react", "embodied", "workforce", "drama"}
_FITS = {
    "world": {"random", "oracle", "react", "embodied"},
    "gaia": {"random", "oracle", "react", "workforce"},
    "drama": {"drama"},
}


@dataclass(frozen=True, kw_only=True)
class AgentSpec:
    """Which agent plays, on which model.

    Args:
        kind: one of :data:`AGENT_KINDS`.
        model: a model spec (``local``, ``litellm:...``, ``openai:...``) for the
            kinds that need one.
        model_factory: instead of ``model``, a module-level function returning a
            fresh :class:`~dramaturg.models.ChatModel` for each episode (how tests
            plug in a ``ScriptedModel``; it must be picklable for process backends).
        temperature: the tool agent's sampling temperature; above 0, attempts of
            a case differ (each gets its own seed), which is what pass@k measures.
        tool_model: a model spec for the tool agent alone (a fine-tuned adapter:
            ``local?lora=PATH``), while planner, critic and workers keep ``model``;
            ``"registry"`` picks each world's adapter from
            :class:`dramaturg.models.adapters.AdapterRegistry` (registered, else shipped
            with dramaturg; the main model where there is none); ``"main"``: the main
            model. ``None`` or ``"auto"`` (the default): ``"registry"`` when ``model`` is
            the embedded model (the adapters fit it), else ``"main"``.
        options: kind-specific settings (``judges`` for drama: model specs;
            ``tool_agent`` for react and embodied: keyword settings of the
            :class:`~dramaturg.agents.ToolAgent`, such as ``{"recap": 24}``).
    """

    kind: str
    model: str | None = None
    model_factory: Callable[[], Any] | None = None
    temperature: float = 0.7
    tool_model: str | Callable[[], Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in AGENT_KINDS:
            raise ConfigError(
                f"unknown agent {self.kind!r}; choose one of {', '.join(AGENT_KINDS)}"
            )
        if self.kind in _NEEDS_MODEL and self.model is None and self.model_factory is None:
            object.__setattr__(self, "model", "local")
        if self.tool_model in (None, "auto"):
            from dramaturg.agents.tool_agent import embedded_spec

            on_embedded = (
                self.kind in ("react", "embodied")
                and self.model_factory is None
                and isinstance(self.model, str)
                and embedded_spec(self.model)
            )
            object.__setattr__(self, "tool_model", "registry" if on_embedded else None)
        if "tool_agent" in self.options:
            from dramaturg.agents.tool_agent import check_settings

            if self.kind not in ("react", "embodied"):
                raise ConfigError(
                    f"the {self.kind} agent has no tool agent settings; "
                    "options['tool_agent'] is for react and embodied"
                )
            check_settings(self.options["tool_agent"] or {}, "AgentSpec options['tool_agent']")

    @property
    def label(self) -> str:
        """How reports name it: ``embodied (local)``; secrets in the specs are masked (it is written to disk)."""
        if self.kind not in _NEEDS_MODEL:
            return self.kind
        model = redact_spec(self.model) or getattr(self.model_factory, "__name__", "factory")
        name = (
            redact_spec(self.tool_model)
            if isinstance(self.tool_model, str)
            else getattr(self.tool_model, "__name__", "")
        )
        # "main" plays as the model alone did before adapters were chosen by default (its
        # runs keep their label, so they still resume)
        tool = f", tool agent {name}" if self.tool_model not in (None, "main") else ""
        return f"{self.kind} ({model}{tool})"

    def check_fits(self, case: Case) -> None:
        """Raise :class:`ConfigError` when this agent cannot play ``case``'s kind."""
        if self.kind not in _FITS[case.kind]:
            fits = ", ".join(sorted(_FITS[case.kind]))
            raise ConfigError(
                f"the {self.kind} agent cannot play {case.kind} cases (like {case.id!r}); "
                f"use one of: {fits}"
            )


@dataclass(kw_only=True)
class StepRecord:
    """One line of an episode's trace."""

    step: int
    action: str
    observation: str
    reasoning: str = ""
    reward: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    constrained: int = 0  # the step's model answers that a grammar forced into shape
    latency_s: float = 0.0
    error: str | None = None
    warning: str | None = (
        None  # the observation looks like a prompt injection (a page written to steer)
    )


@dataclass(kw_only=True)
class EpisodeOutput:
    """What playing a case produced (the runner adds ids, status and timing)."""

    success: bool
    score: float | None = None
    steps: int = 0
    answer: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    judgements: dict[str, dict[str, int | None]] = field(default_factory=dict)


# --------------------------------------------------------------------- models
_MODELS: dict[str, Any] = {}


def _loaded(spec: str) -> Any:
    if spec not in _MODELS:
        from dramaturg.models import load_model

        _MODELS[spec] = load_model(spec)
    return _MODELS[spec]


def model_for(spec: AgentSpec) -> Any:
    """The episode's model, wrapped to count its usage (a fresh count per episode)."""
    from dramaturg.models.wrappers import UsageModel

    if spec.model_factory is not None:
        return UsageModel(spec.model_factory())
    assert spec.model is not None
    return UsageModel(_loaded(spec.model))


def tool_model_for(spec: AgentSpec, case: Case) -> Any:
    """The tool agent's own model for this case, usage-counted; ``None``: it shares the main model."""
    from dramaturg.models.wrappers import UsageModel

    if callable(spec.tool_model):
        return UsageModel(spec.tool_model())
    chosen = _tool_spec(spec, case)
    return UsageModel(_loaded(chosen)) if chosen else None


def _tool_spec(spec: AgentSpec, case: Case) -> str | None:
    """The model spec of the tool agent's own model (``None``: none, or a factory)."""
    from dramaturg.agents.tool_agent import tool_model_spec

    return (
        tool_model_spec(spec.tool_model, case.world) if isinstance(spec.tool_model, str) else None
    )


def tool_agent_settings_for(spec: AgentSpec, case: Case) -> dict[str, int]:
    """The tool agent's settings: those its adapter was trained with (if its model,
    its own or the main one it shares, has one), then ``spec.options["tool_agent"]``."""
    from dramaturg.agents.tool_agent import adapter_tool_agent

    if callable(spec.tool_model):
        own = None
    else:
        own = _tool_spec(spec, case) or spec.model
    return {**adapter_tool_agent(own), **(spec.options.get("tool_agent") or {})}


def game_id(case: Case) -> str | None:
    """The id training data gives ``case``'s game (``alfworld/<task>/<split>/<seed>``,
    ``textworld/<challenge>/<seed>``); ``None`` when training makes no such game (a
    TextWorld case with other ``tw-make`` options than the built-in challenge's)."""
    if case.world.startswith("alfworld/"):
        return f"{case.world}/{case.split or 'seen'}/{case.seed}"
    if case.world.startswith("textworld/"):
        from dramaturg.evals.suites import TEXTWORLD_LEVELS

        challenge = case.world.split("/", 1)[1]
        if dict(case.options) != dict(TEXTWORLD_LEVELS.get(challenge, {})):
            return None
    return f"{case.world}/{case.seed}"


def _adapter_games(lora: Path) -> set[str]:
    """The games an adapter file was trained or validated on: from the shipped manifest,
    else from the ``data.splits.json`` of the training run it sits in (``set()``: unknown)."""
    from dramaturg.models.adapters import shipped_adapters

    try:
        lora = lora.resolve()
        for adapter in shipped_adapters():
            if adapter.path.resolve() == lora:
                games = adapter.data.get("games") or {}
                return {g for part in ("train", "valid") for g in games.get(part) or []}
        for folder in list(lora.parents)[:3]:  # RUN/tool-agent.gguf, RUN/dagger/round-1/...
            splits = folder / "data.splits.json"
            if splits.is_file():
                found = json.loads(splits.read_text(encoding="utf-8"))
                return {g for part in ("train", "valid") for g in found.get(part) or []}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()  # an unreadable record is no reason to stop a run: nothing is flagged
    return set()


def trained_on(spec: AgentSpec, cases: list[Case]) -> dict[str, str]:
    """The cases whose game the tool agent's adapter was trained (or validated) on,
    as case id -> adapter file name: their success is not a held-out figure.

    Only adapters that record their games are known: the shipped ones (their
    manifest) and those of ``dramaturg train`` runs (``data.splits.json``).
    """
    from dramaturg.models.loader import parse_spec

    if spec.kind not in ("react", "embodied"):
        return {}
    found: dict[str, str] = {}
    # one registry lookup per world and one read of an adapter's games per adapter,
    # not one per case (a suite holds hundreds of cases of a few worlds)
    by_world: dict[str, tuple[str, set[str]] | None] = {}
    by_lora: dict[str, tuple[str, set[str]]] = {}
    for case in cases:
        if case.kind != "world":
            continue
        if case.world not in by_world:
            chosen = _tool_spec(spec, case) or (spec.model if spec.model_factory is None else None)
            lora = parse_spec(chosen)[2].get("lora") if chosen else None
            if lora and str(lora) not in by_lora:
                by_lora[str(lora)] = (Path(str(lora)).name, _adapter_games(Path(str(lora))))
            by_world[case.world] = by_lora[str(lora)] if lora else None
        record = by_world[case.world]
        if record is None:
            continue
        name, games = record
        ident = game_id(case)
        if ident is not None and ident in games:
            found[case.id] = name
    return found


class Tracer:
    """Collects steps, with the tokens and time each took since the step before."""

    def __init__(self, sink: Callable[[StepRecord], None], model: Any = None) -> None:
        self.sink, self.model, self.n = sink, model, 0
        self.extra: list[Any] = []  # other usage-counted models of the episode (a tool agent's own)
        self._tokens = (0, 0)
        self._constrained = 0
        self._t = time.perf_counter()

    def constrained(self) -> int:
        """Model answers so far that grammar-constrained decoding forced into shape."""
        return sum(m.usage.total.constrained for m in [self.model, *self.extra] if m is not None)

    def usage(self) -> tuple[int, int, float]:
        prompt = completion = 0
        cost = 0.0
        for m in [self.model, *self.extra]:
            if m is None:
                continue
            total = m.usage.total.usage
            prompt, completion = prompt + total.prompt_tokens, completion + total.completion_tokens
            cost += float(total.cost_usd or 0.0)
        return prompt, completion, cost

    def step(self, action: str, observation: str, **extra: Any) -> None:
        signs = injection_signs(observation)
        if signs:
            extra.setdefault(
                "warning", f"the observation looks like a prompt injection: {signs[0]!r}"
            )
        prompt, completion, _ = self.usage()
        constrained = self.constrained()
        now = time.perf_counter()
        self.n += 1
        self.sink(
            StepRecord(
                step=self.n,
                action=action,
                observation=observation,
                prompt_tokens=prompt - self._tokens[0],
                completion_tokens=completion - self._tokens[1],
                constrained=constrained - self._constrained,
                latency_s=round(now - self._t, 6),
                **extra,
            )
        )
        self._tokens, self._constrained, self._t = (prompt, completion), constrained, now


# --------------------------------------------------------------------- worlds
def make_case_world(case: Case) -> Any:
    """The case's world: a registered id, or an entry point ``module:callable``."""
    assert case.world is not None
    if ":" in case.world:
        import importlib

        module, _, attr = case.world.partition(":")
        return getattr(importlib.import_module(module), attr)(**case.world_kwargs)
    from dramaturg.worlds import make_world

    return make_world(case.world, **case.world_kwargs)


def _play_policy(
    case: Case, spec: AgentSpec, *, seed: int, max_steps: int, tracer: Tracer
) -> EpisodeOutput:
    from dramaturg.agents.baselines import OracleAgent, RandomAgent

    policy = OracleAgent() if spec.kind == "oracle" else RandomAgent()
    with make_case_world(case) as world:
        obs, info = world.reset(seed=case.seed, options=case.options or None)
        policy.reset(obs, info, seed=seed)
        steps = 0
        for _ in range(max_steps):
            action = policy.act(obs, info)
            obs, reward, terminated, truncated, info = world.step(action)
            steps += 1
            tracer.step(action, obs, reward=float(reward or 0.0))
            if terminated or truncated:
                break
        won = bool(info.get("won"))
        return EpisodeOutput(success=won, score=float(info.get("score") or 0.0), steps=steps)


async def _play_graph(
    case: Case, spec: AgentSpec, *, seed: int, max_steps: int, tracer: Tracer
) -> EpisodeOutput:
    from dramaturg.agents import Critic, Planner, tool_agent_for
    from dramaturg.graphs import embodied
    from dramaturg.graphs.embodied import Episode

    model = tracer.model
    tool = tool_model_for(spec, case)
    if tool is not None:
        tracer.extra.append(tool)
    full = spec.kind == "embodied"
    graph = embodied(
        # its adapter's settings (its own model's, or the main one's it shares), then the spec's
        tool_agent=tool_agent_for(
            tool or model,
            temperature=spec.temperature,
            seed=seed,
            **(spec.options.get("tool_agent") or {}),
        ),
        planner=Planner(model=model) if full else None,
        critic=Critic(model=model) if full else None,
        max_steps=max_steps,
    )
    intents: list[str] = []
    intent = 0
    final: dict[str, Any] = {}
    with make_case_world(case) as world:
        context = Episode(world, seed=case.seed, options=case.options or None)
        async for update in graph.astream(
            {}, {"recursion_limit": 4 * max_steps + 50}, context=context, stream_mode="updates"
        ):
            for part in update.values():
                if not isinstance(part, dict):
                    continue
                intents = part.get("intents", intents)
                intent = part.get("intent", intent)
                for s in part.get("steps", ()):
                    why = intents[intent] if 0 <= intent < len(intents) else ""
                    tracer.step(
                        s.get("action", ""),
                        s.get("observation", ""),
                        reasoning=why,
                        reward=float(s.get("reward") or 0.0),
                        error=s.get("error"),
                    )
                final.update(part)
    return EpisodeOutput(
        success=final.get("outcome") == "won",
        score=float(final.get("score") or 0.0),
        steps=tracer.n,
    )


# --------------------------------------------------------------------- questions
_FINAL_HINT = "Finish with one line: FINAL ANSWER: <the answer only: a number, a few words, or a comma-separated list>."


def _gaia_tools(case: Case, root: Path | None, folder: Path) -> list[Any]:
    """Files, Python and the local site. The file tool sees a folder holding only this
    question's file: the dataset folder also holds the answer key."""
    import shutil

    from dramaturg.evals._gaia_tools import local_web_tool
    from dramaturg.tools import file_reader, python_tool

    tools = [python_tool(), local_web_tool()]
    if case.file:
        if root is None:
            raise ConfigError(
                f"case {case.id!r} attaches {case.file!r} but its suite has no folder"
            )
        shutil.copy(root / case.file, folder / Path(case.file).name)
        tools.insert(0, file_reader(folder))
    return tools


def _answer_of(text: str) -> str:
    from dramaturg.evals.gaia import extract_final_answer

    found = extract_final_answer(text)
    return (found if found is not None else text).strip()


async def _answer_question(
    case: Case, spec: AgentSpec, *, seed: int, max_steps: int, root: Path | None, tracer: Tracer
) -> EpisodeOutput:
    from dramaturg.evals.gaia import gaia_score

    assert case.question is not None and case.answer is not None
    if spec.kind == "oracle":
        answer = case.answer
        tracer.step(f"FINAL ANSWER: {answer}", "")
    elif spec.kind == "random":
        words = re.findall(r"[\w.]+", case.question) or ["?"]
        answer = random.Random(seed).choice(words)
        tracer.step(f"FINAL ANSWER: {answer}", "")
    else:
        answer = await _model_answer(case, spec, max_steps=max_steps, root=root, tracer=tracer)
    return EpisodeOutput(
        success=gaia_score(answer, case.answer), score=None, steps=tracer.n, answer=answer
    )


async def _model_answer(
    case: Case, spec: AgentSpec, *, max_steps: int, root: Path | None, tracer: Tracer
) -> str:
    import tempfile

    from dramaturg.agents import Critic, Planner, Worker
    from dramaturg.agents.schemas import Subtask
    from dramaturg.graphs import workforce
    from dramaturg.tools import ToolSet

    model = tracer.model
    scratch = tempfile.TemporaryDirectory(prefix="dramaturg-gaia-")
    tools = _gaia_tools(case, root, Path(scratch.name))
    context = {"question": case.question or ""}
    if case.file:
        context["attached file"] = f"{Path(case.file).name} (read it with read_file)"
    worker = Worker(
        name="worker", model=model, tools=_TracedTools(ToolSet(tools), tracer), max_steps=max_steps
    )
    try:
        if spec.kind == "react":
            subtask = Subtask(id="task", description="Answer the question. " + _FINAL_HINT)
            result, _ = await worker.attempt(subtask, context=context)
            tracer.step(
                "answer" if result.ok else "gave up",
                result.output if result.ok else "",
                error=result.error,
            )
            return _answer_of(result.output) if result.ok else ""
        task = "\n".join(f"{k}: {v}" for k, v in context.items()) + "\n" + _FINAL_HINT
        graph = workforce(
            planner=Planner(model=model), workers=[worker], critic=Critic(model=model)
        )
        final = await graph.ainvoke({"task": task}, {"recursion_limit": 200})
        tracer.step(
            "workforce",
            str(final.get("answer", ""))[:2000],
            reasoning=f"outcome {final.get('outcome')}",
        )
        return _answer_of(str(final.get("answer") or ""))
    finally:
        for t in tools:
            for part in ("sandbox", "site"):
                closer = getattr(getattr(t, part, None), "close", None)
                if closer is not None:
                    closer()
        scratch.cleanup()


class _TracedTools:
    """A worker's tools, each call traced as a step as it happens (tokens and time per call)."""

    def __init__(self, inner: Any, tracer: Tracer) -> None:
        self.inner, self.tracer = inner, tracer

    def describe(self) -> str:
        return self.inner.describe()

    async def call(self, call: Any) -> Any:
        import json

        result = await self.inner.call(call)
        self.tracer.step(
            f"{call.name}({json.dumps(call.arguments, ensure_ascii=False)})"[:2000],
            str(result.text)[:4000],
            error=None if result.ok else str(result.error)[:500],
        )
        return result
