"""Run a suite with an agent: every case ``attempts`` times, on one of three backends.

Example:
    >>> from dramaturg.evals import AgentSpec, builtin_suite, run_eval
    >>> suite = builtin_suite("alfworld-style", n=1)                        # doctest: +SKIP
    >>> summary = run_eval(suite, AgentSpec(kind="oracle"), out="runs/oracle")  # doctest: +SKIP
    >>> summary["overall"]["success_rate"]                                  # doctest: +SKIP
    1.0

The run directory holds everything, and is the only state:

* ``run.json``: what was run (suite, agent, model, attempts, step budget);
* ``episodes.jsonl``: one line per finished episode, appended and flushed to
  disk as each one ends (by this process only, so lines never interleave);
* ``traces/<case>.<attempt>.jsonl``: every step of every episode;
* ``summary.json``: the statistics of :func:`dramaturg.evals.metrics.summarize`.

Running again with the same ``out`` resumes: episodes already in
``episodes.jsonl`` are skipped, so a run killed at any moment (even with
SIGKILL) finishes with each episode recorded exactly once. A torn last line
(the kill hit mid-write) is cut off before appending.

Backends give the same records for the same seeds (only timings differ):

* ``seq``: in this process, one episode after another; the timeout uses
  ``SIGALRM`` (main thread only) and cannot stop native code.
* ``mp`` (default): worker processes; a timed-out or crashed episode's worker
  is killed and replaced (see :mod:`dramaturg.evals._pool`). Each worker
  imports the main script again as it starts, so a script that calls
  :func:`run_eval` needs the ``if __name__ == "__main__":`` guard; without it
  the workers die at start and :func:`run_eval` raises a ``ConfigError`` that
  says so (nothing is recorded, and the run resumes once the script is fixed).
* ``ray``: Ray tasks on the cluster ``ray.init()`` connects to (a local one
  when none is running); needs ``pip install "dramaturg[ray]"``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dramaturg._files import InputFileError, load_json, parse_json
from dramaturg._progress import progress_bar
from dramaturg.errors import ConfigError, MissingExtraError
from dramaturg.evals._execute import Job, error_record, execute, trace_path
from dramaturg.evals._pool import GUARD_ADVICE, WorkerStartError
from dramaturg.evals.agents import AgentSpec
from dramaturg.evals.cases import Suite
from dramaturg.evals.metrics import summarize
from dramaturg.models._redact import redact_spec, same_spec

__all__ = ["BACKENDS", "read_episodes", "run_eval"]

BACKENDS = ("seq", "mp", "ray")


def read_episodes(run_dir: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """The finished episodes of a run; a torn last line is ignored (and cut off with ``repair``)."""
    path = Path(run_dir) / "episodes.jsonl"
    if not path.is_file():
        return []
    data = path.read_bytes()
    good = data.rfind(b"\n") + 1
    if repair and good < len(data):
        with path.open("r+b") as f:
            f.truncate(good)
    out = []
    for n, line in enumerate(data[:good].split(b"\n"), 1):
        if line.strip():
            try:
                out.append(parse_json(line, label=f"{path} line {n}"))
            except InputFileError as exc:  # not UTF-8, or nested too deeply
                raise ConfigError(
                    f"{exc}; the run directory is damaged: remove that line to resume"
                ) from None
            except json.JSONDecodeError as exc:
                raise ConfigError(
                    f"{path} line {n} is not JSON ({exc.msg}); the run directory is "
                    "damaged: remove that line to resume"
                ) from None
    return out


def _identity(
    suite: Suite, agent: AgentSpec, attempts: int, max_steps: int, seed: int
) -> dict[str, Any]:
    return {
        "suite": suite.name,
        "agent": agent.kind,
        "model": agent.label,
        "attempts": attempts,
        "max_steps": max_steps,
        "seed": seed,
        # settings given on top of the adapter's (``--tool-agent``): other prompts, another run
        "tool_agent": agent.options.get("tool_agent") or None,
    }


def _prepare(out: Path, ident: dict[str, Any], extra: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    run_file = out / "run.json"
    if run_file.is_file():
        old = load_json(run_file)
        # The model is compared without its secrets: run.json never holds them, and a key may change.
        differ = [
            k
            for k, v in ident.items()
            if (not same_spec(old.get(k), v) if k == "model" else old.get(k) != v)
        ]
        if differ:
            shown = ", ".join(f"{k}: {old.get(k)!r} there, {ident[k]!r} now" for k in differ)
            raise ConfigError(
                f"{out} holds a different run ({shown}); choose another --out, or "
                "delete the directory to start over"
            )
        return
    _write_json(run_file, {**ident, **extra})


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class _Alarm(BaseException):
    """Not an ``Exception``: the episode's own error handling must not swallow it."""


@contextmanager
def _time_limit(seconds: float | None):
    import threading

    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def fire(*_: Any) -> None:
        raise _Alarm

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _run_seq(jobs: list[Job], on_record: Callable[[dict], None], timeout_s: float | None) -> None:
    for job in jobs:
        started = time.monotonic()
        try:
            with _time_limit(timeout_s):
                record = execute(job)
        except _Alarm:
            record = error_record(
                job,
                "timeout",
                f"no result within {timeout_s:g} s",
                latency_s=time.monotonic() - started,
            )
            path = trace_path(job.traces, job.case, job.attempt)
            part = path.with_name(path.name + ".part")
            if part.exists():
                os.replace(part, path)
        on_record(record)


def _run_ray(
    jobs: list[Job], on_record: Callable[[dict], None], workers: int, timeout_s: float | None
) -> None:
    try:
        import ray
    except ImportError as exc:
        raise MissingExtraError("ray", "ray", "the Ray backend") from exc
    if not ray.is_initialized():
        # Workers import dramaturg (and the caller's modules) from the same paths as this process.
        path = os.pathsep.join(p for p in sys.path if p)
        ray.init(
            num_cpus=workers,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": path}},
        )
    remote = ray.remote(num_cpus=1, max_retries=0)(execute)
    pending = list(jobs)
    running: dict[Any, tuple[Job, float]] = {}
    while pending or running:
        while pending and len(running) < workers:
            job = pending.pop(0)
            running[remote.remote(job)] = (job, time.monotonic())
        done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
        for ref in done:
            job, started = running.pop(ref)
            try:
                on_record(ray.get(ref))
            except Exception as exc:  # the task's worker died
                on_record(
                    error_record(
                        job,
                        "error",
                        f"the Ray task failed: {exc}",
                        latency_s=time.monotonic() - started,
                    )
                )
        if timeout_s:
            now = time.monotonic()
            for ref, (job, started) in list(running.items()):
                if now - started >= timeout_s:
                    ray.cancel(ref, force=True)
                    running.pop(ref)
                    on_record(
                        error_record(
                            job,
                            "timeout",
                            f"no result within {timeout_s:g} s; the Ray task was cancelled",
                            latency_s=now - started,
                        )
                    )


def run_eval(
    suite: Suite,
    agent: AgentSpec,
    *,
    out: str | Path,
    attempts: int = 1,
    max_steps: int = 30,
    timeout_s: float | None = 900.0,
    backend: str = "mp",
    workers: int | None = None,
    seed: int = 0,
    progress: bool = True,
    command: str | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume) ``suite`` with ``agent``; return the summary (also in ``out/summary.json``).

    Args:
        suite: the cases.
        agent: who plays them.
        out: the run directory (see the module docstring); reusing it resumes.
        attempts: independent attempts per case (pass@k uses all of them).
        max_steps: the step budget per episode (a case's own ``max_steps`` wins).
        timeout_s: wall-clock limit per episode; ``None`` for none.
        backend: ``seq``, ``mp`` or ``ray``.
        workers: processes (mp) or concurrent tasks (ray); default: the CPU count.
        seed: the run's seed; with the case and the attempt it fixes each
            attempt's agent seed.
        progress: show a progress bar on the terminal.
        command: the command line, kept in ``run.json`` for the report.
        on_record: called with each episode's record as it is saved.

    Raises:
        ConfigError: a bad setting, a run directory of another run, or (mp
            backend) worker processes that die as they start, before their
            first episode: the calling script most likely lacks its
            ``if __name__ == "__main__":`` guard.
    """
    import multiprocessing

    # multiprocessing sets _inheriting while a new process imports its parent's main script (and reads
    # it to refuse starting processes there): an unguarded script called us at import time. Refuse
    # before touching the run directory the parent is writing.
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise WorkerStartError(
            f"run_eval was called while a worker process was starting. {GUARD_ADVICE}"
        )
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if attempts < 1 or max_steps < 1:
        raise ConfigError("attempts and max_steps must be at least 1")
    for case in suite.cases:
        agent.check_fits(case)
    from dramaturg.models.loader import parse_spec

    for spec in [agent.model, agent.tool_model, *agent.options.get("judges", ())]:
        if isinstance(spec, str) and spec not in ("registry", "main", "auto"):
            parse_spec(spec)  # a mistyped spec fails here, not once per episode
    out = Path(out)
    ident = _identity(suite, agent, attempts, max_steps, seed)
    from dramaturg import __version__

    _prepare(
        out,
        ident,
        {
            "backend": backend,
            "n_cases": len(suite.cases),
            "version": __version__,
            "command": redact_spec(command or " ".join(sys.argv)),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    known = {c.id for c in suite.cases}
    done = {(e["case_id"], e["attempt"]) for e in read_episodes(out, repair=True)}
    stray = {cid for cid, _ in done} - known
    if stray:
        raise ConfigError(
            f"{out} has episodes of cases not in this suite ({sorted(stray)[:3]}...); "
            "choose another --out"
        )
    root = str(suite.root) if suite.root else None
    jobs = [
        Job(
            case=c,
            attempt=a,
            agent=agent,
            max_steps=max_steps,
            root=root,
            traces=str(out / "traces"),
            base_seed=seed,
        )
        for c in suite.cases
        for a in range(attempts)
        if (c.id, a) not in done
    ]
    workers = max(1, workers or os.cpu_count() or 1)
    with (
        (out / "episodes.jsonl").open("a", encoding="utf-8") as log,
        _Progress(
            len(jobs),
            total=len(suite.cases) * attempts,
            title=f"{suite.name}: {agent.label}",
            enabled=progress,
        ) as bar,
    ):

        def save(record: dict[str, Any]) -> None:
            log.write(json.dumps(record, ensure_ascii=False) + "\n")
            log.flush()
            os.fsync(log.fileno())
            bar.advance(record)
            if on_record is not None:
                on_record(record)

        if backend == "seq":
            _run_seq(jobs, save, timeout_s)
        elif backend == "mp":
            from dramaturg.evals._pool import run_processes

            run_processes(jobs, save, workers=workers, timeout_s=timeout_s)
        else:
            _run_ray(jobs, save, workers, timeout_s)
    episodes = read_episodes(out)
    summary = summarize(episodes, head=ident, k=attempts)
    if any(e.get("judgements") for e in episodes):
        from dramaturg.evals._drama_judging import judge_agreement

        summary["judges"] = judge_agreement(episodes)
    _write_json(out / "summary.json", summary)
    return summary


class _Progress:
    """A rich progress bar with the running success count; silent when disabled."""

    def __init__(self, todo: int, *, total: int, title: str, enabled: bool) -> None:
        self.todo, self.total, self.title, self.enabled = todo, total, title, enabled
        self.won = self.failed = self.errors = 0

    def __enter__(self) -> _Progress:
        if self.enabled:
            self._bar = progress_bar()
            self._bar.start()
            self._task = self._bar.add_task(
                self.title, total=self.total, completed=self.total - self.todo, stats=""
            )
        return self

    def advance(self, record: dict[str, Any]) -> None:
        if record.get("status") != "done":
            self.errors += 1
        elif record.get("success"):
            self.won += 1
        else:
            self.failed += 1
        if self.enabled:
            stats = f"[green]{self.won} won[/] [red]{self.failed} lost[/]"
            if self.errors:
                stats += f" [yellow]{self.errors} errors[/]"
            self._bar.update(self._task, advance=1, stats=stats)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._bar.stop()
