"""Worker processes for the multiprocessing backend, with hard timeouts and crash isolation.

``concurrent.futures`` breaks the whole pool when one worker dies, and cannot
stop a task that runs too long. Here each worker has its own pipe, so the
parent always knows which episode a worker is playing: when a worker dies
(a segfault in a native library, the OOM killer) or passes its deadline, the
parent records that episode as an error or a timeout, kills the worker and
starts a fresh one, and the run goes on.

A worker that dies before it is ready (before its first episode) is another
matter: every worker would die the same way, and recording each episode as an
error would report a 0% run. That happens when the script that called
:func:`~dramaturg.evals.run_eval` has no ``if __name__ == "__main__":`` guard:
each worker imports the script again before it starts, and the script starts
another evaluation there. :func:`run_processes` raises
:class:`WorkerStartError` then, naming the fix.

Workers come from a ``forkserver`` that has imported the evaluation code once,
so a restart costs a fork, not a Python start-up. A worker whose parent died
(a run killed with SIGKILL) exits on its own within a second.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection, wait
from typing import Any

from dramaturg.errors import ConfigError
from dramaturg.evals._execute import Job, error_record, execute

__all__ = ["WorkerStartError", "run_processes"]

_READY = "ready"  # a worker's first message: it has started (the main script, if any, is imported)

GUARD_ADVICE = (
    'The usual cause: the script that calls run_eval has no `if __name__ == "__main__":` guard, so each '
    "worker process, which imports the script again as it starts, runs the script's evaluation too. Put "
    'the code under that guard, or play the episodes in this process with backend="seq" '
    "(`--backend seq` on the command line)."
)


class WorkerStartError(ConfigError):
    """The worker processes die as they start, before playing any episode."""


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(3)


def _worker(conn: Connection, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C for everyone
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    conn.send(_READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        conn.send(execute(job))


class _Slot:
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.job: Job | None = None
        self.ready = False
        self.deadline = 0.0
        self.started = 0.0
        self._start()

    def _start(self) -> None:
        self.ready = False
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, os.getpid()), daemon=True)
        self.proc.start()
        child.close()

    def give(self, job: Job, timeout_s: float | None) -> None:
        self.job, self.started = job, time.monotonic()
        self.deadline = self.started + timeout_s if timeout_s else float("inf")
        self.conn.send(job)

    def restart(self) -> None:
        self.kill()
        self._start()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        self.job = None

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.proc.join(5)
        self.kill()


def _context() -> Any:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["dramaturg.evals._execute"])
    return ctx


def run_processes(
    jobs: Iterable[Job],
    on_record: Callable[[dict[str, Any]], None],
    *,
    workers: int,
    timeout_s: float | None,
) -> None:
    """Run ``jobs`` on ``workers`` processes, calling ``on_record`` (in this process) per episode."""
    queue = deque(jobs)
    if not queue:
        return
    ctx = _context()
    slots = [_Slot(ctx) for _ in range(max(1, min(workers, len(queue))))]
    try:
        while True:
            for slot in slots:
                if slot.job is None and queue:
                    slot.give(queue.popleft(), timeout_s)
            busy = [s for s in slots if s.job is not None]
            if not busy:
                return
            now = time.monotonic()
            wait_s = max(0.0, min(s.deadline for s in busy) - now)
            ready = wait(
                [x for s in busy for x in (s.conn, s.proc.sentinel)], timeout=min(wait_s, 1.0)
            )
            for slot in busy:
                assert slot.job is not None
                job = slot.job
                if slot.conn in ready:
                    try:
                        record = slot.conn.recv()
                    except (EOFError, OSError):
                        record = None
                    if record == _READY:
                        slot.ready = True
                        continue  # its episode's record (or its death) comes next
                    if record is not None:
                        slot.job = None
                        on_record(record)
                        continue
                if slot.conn in ready or slot.proc.sentinel in ready:
                    slot.proc.join(1)
                    code = slot.proc.exitcode
                    if not slot.ready:  # nothing recorded: a rerun after the fix plays this episode
                        raise WorkerStartError(
                            f"the evaluation's worker processes die as they start (exit code {code}), "
                            f"before playing any episode. {GUARD_ADVICE}"
                        )
                    on_record(
                        error_record(
                            job,
                            "error",
                            f"the worker process died (exit code {code}) "
                            "while playing this episode",
                            latency_s=time.monotonic() - slot.started,
                        )
                    )
                    slot.restart()
                elif time.monotonic() >= slot.deadline:
                    on_record(
                        error_record(
                            job,
                            "timeout",
                            f"no result within {timeout_s:g} s; the worker was killed",
                            latency_s=time.monotonic() - slot.started,
                        )
                    )
                    slot.restart()
    finally:
        for slot in slots:
            slot.stop()
