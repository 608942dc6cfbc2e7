"""A sandboxed Python tool: run model-written code in a locked-down child process.

There is no container here, so the isolation is built from layers, each of
which holds on its own (the tests turn each one off in turn to prove it):

================  ==========================================================
layer             what it gives
================  ==========================================================
process           ``sys.executable -I -B``: a fresh interpreter in its own
                  session (process group) and working folder, environment
                  cleared, ``HOME``/``TMPDIR`` pointed at the work folder.
rlimits           ``RLIMIT_AS`` (memory), ``RLIMIT_CPU``, ``RLIMIT_FSIZE``
                  (largest file), ``RLIMIT_NOFILE``, ``RLIMIT_CORE=0``, set in
                  ``preexec_fn``; a wall-clock timeout kills the whole group.
network ns        ``unshare(CLONE_NEWNET)`` through ctypes in ``preexec_fn``
                  (needs root or ``CAP_SYS_ADMIN``): the child sees only a
                  downed loopback, so nothing, 127.0.0.1 included, is
                  reachable and no name resolves. Skipped silently where
                  not permitted.
Landlock          Linux >= 5.13 LSM, applied by the child to itself before
                  the code runs: no file creation/write/removal/rename
                  outside the work folder, no ``execve`` at all, no TCP
                  bind/connect (ABI >= 4), no signals to processes outside
                  (ABI >= 6). Kernel-enforced and irreversible; skipped
                  where the kernel lacks it.
audit hook        ``sys.addaudithook`` (PEP 578) refusing socket
                  connect/bind/resolve, writes/removals/renames outside the
                  work folder (and, since events do not carry ``dir_fd``,
                  ``os.open`` of outside folders, symlinks pointing out and
                  relative write paths with ``..``), process spawning,
                  ``ctypes`` and ``gc`` introspection. Works everywhere but
                  is a guard, not a wall: PEP 578 says plainly that hooks
                  can be bypassed by determined native-level code.
================  ==========================================================

:attr:`SandboxRun.layers` says which layers were active for a run.
Known limits: reads are not restricted (the child can read what the user
running dramaturg can); ``RLIMIT_NPROC`` is per user and ignored for root,
so it is not set (forks are refused by the audit hook, exec by Landlock);
a CPU-bound thread cannot be interrupted except by killing the process,
which is what the timeout does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dramaturg.tools._invoke import truncate
from dramaturg.tools.definition import Tool
from dramaturg.tools.errors import ToolDefinitionError, ToolError

__all__ = ["Sandbox", "SandboxRun", "python_tool"]

Limit = Literal["time", "cpu", "memory", "file_size"]
_BOOTSTRAP = (Path(__file__).with_name("_bootstrap.py")).read_text(encoding="utf-8")
_MEMORY_EXIT = 86  # _bootstrap.MEMORY_EXIT
_CLONE_NEWNET = 0x40000000
_EFBIG = f"[Errno {errno.EFBIG}]"


def _parent_netns() -> str:
    try:
        return os.readlink("/proc/self/ns/net")
    except OSError:
        return ""


@dataclass(kw_only=True)
class SandboxRun:
    """The outcome of one :meth:`Sandbox.run`.

    Attributes:
        stdout, stderr: what the code printed (each capped).
        exit_code: the process's exit status; negative for a signal.
        limit: which limit stopped it, if any.
        duration_s: wall-clock seconds.
        truncated: true when stdout or stderr was cut.
        layers: which isolation layers were active (see the module docstring).
    """

    stdout: str
    stderr: str
    exit_code: int
    limit: Limit | None = None
    duration_s: float = 0.0
    truncated: bool = False
    layers: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the code ran to completion with exit status 0."""
        return self.exit_code == 0 and self.limit is None

    def report(self) -> str:
        """The run as text for a model: output, errors, and what stopped it."""
        parts = [self.stdout.rstrip("\n")] if self.stdout.strip() else []
        if self.stderr.strip():
            parts.append("[stderr]\n" + self.stderr.rstrip("\n"))
        if self.limit is not None:
            parts.append(f"[stopped: {self.limit} limit reached]")
        elif self.exit_code != 0:
            parts.append(f"[exit status {self.exit_code}]")
        return "\n".join(parts) if parts else "(no output)"


class Sandbox:
    """Runs Python code in a locked-down child process; see the module docstring.

    Args:
        workdir: the only folder the code may write to (created if missing);
            a fresh temporary folder, removed by :meth:`close`, if ``None``.
            Files persist between runs; Python state does not.
        timeout_s: wall-clock limit per run; the process group is killed.
        memory_mb: address-space limit (``RLIMIT_AS``).
        max_file_mb: largest file the code may write (``RLIMIT_FSIZE``).
        max_output_chars: cap on each of stdout and stderr.
        network_namespace, landlock, audit_hook: the optional layers; turn one
            off only to test the others.

    Example:
        >>> box = Sandbox(timeout_s=5)
        >>> run = box.run_sync("print(6 * 7)")
        >>> run.stdout, run.ok
        ('42\\n', True)
        >>> box.close()
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str] | None = None,
        *,
        timeout_s: float = 10.0,
        memory_mb: int = 512,
        max_file_mb: int = 64,
        max_output_chars: int = 8_000,
        network_namespace: bool = True,
        landlock: bool = True,
        audit_hook: bool = True,
    ) -> None:
        if timeout_s <= 0:
            raise ToolDefinitionError("timeout_s must be positive")
        if memory_mb < 64:
            raise ToolDefinitionError(
                "memory_mb must be at least 64 (the interpreter itself needs ~30 MB)"
            )
        self._owned = workdir is None
        self.workdir = Path(
            tempfile.mkdtemp(prefix="dramaturg-sandbox-") if workdir is None else workdir
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = self.workdir.resolve()
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.max_file_mb = max_file_mb
        self.max_output_chars = max_output_chars
        self.network_namespace = network_namespace
        self.landlock = landlock
        self.audit_hook = audit_hook

    def close(self) -> None:
        """Remove the work folder if the sandbox created it."""
        if self._owned:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _preexec(self) -> None:
        # Runs in the forked child before exec: only async-signal-tolerant work.
        mem = self.memory_mb * 1024 * 1024
        cpu = (
            int(self.timeout_s) + 2
        )  # wall clock fires first; this catches a runaway if it does not
        fsize = self.max_file_mb * 1024 * 1024
        for res, value in (
            (resource.RLIMIT_AS, mem),
            (resource.RLIMIT_CPU, cpu),
            (resource.RLIMIT_FSIZE, fsize),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NOFILE, 256),
        ):
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(res, (value, value))
        if self.network_namespace:
            with contextlib.suppress(Exception):
                ctypes.CDLL(None, use_errno=True).unshare(_CLONE_NEWNET)

    async def run(self, code: str) -> SandboxRun:
        """Run ``code`` as ``__main__`` in a fresh child process and report."""
        private = Path(tempfile.mkdtemp(prefix="dramaturg-sandbox-run-"))
        try:
            return await self._run(code, private)
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def run_sync(self, code: str) -> SandboxRun:
        """Synchronous twin of :meth:`run`."""
        from dramaturg.models.base import run_sync

        return run_sync(self.run(code))

    async def _run(self, code: str, private: Path) -> SandboxRun:
        (private / "code.py").write_text(code, encoding="utf-8")
        config = {
            "workdir": str(self.workdir),
            "code_path": str(private / "code.py"),
            "status_path": str(private / "status.json"),
            "landlock": self.landlock,
            "audit_hook": self.audit_hook,
            "parent_netns": _parent_netns(),
        }
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir),
            "LANG": "C.UTF-8",
            "MPLBACKEND": "Agg",
            # One thread each: BLAS pools reserve address space per thread under RLIMIT_AS.
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        start = time.perf_counter()
        limit: Limit | None = None
        with open(private / "stdout", "wb") as out, open(private / "stderr", "wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-B", "-X", "utf8", "-c", _BOOTSTRAP, json.dumps(config),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err, cwd=self.workdir, env=env,
                start_new_session=True, preexec_fn=self._preexec,
            )  # fmt: skip
            try:
                await asyncio.wait_for(proc.wait(), self.timeout_s)
            except TimeoutError:
                limit = "time"
            finally:
                # Kill the whole group: the code may have left children behind.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                if proc.returncode is None:
                    await proc.wait()
        duration = time.perf_counter() - start
        stdout, cut_out = _read_capped(private / "stdout", self.max_output_chars)
        stderr, cut_err = _read_capped(private / "stderr", self.max_output_chars)
        exit_code = proc.returncode if proc.returncode is not None else -9
        if limit is None:
            limit = _which_limit(exit_code, stderr)
        try:
            layers = json.loads((private / "status.json").read_text())
        except (OSError, ValueError):
            layers = {}
        return SandboxRun(
            stdout=stdout,
            stderr=stderr,
            exit_code=exit_code,
            limit=limit,
            duration_s=duration,
            truncated=cut_out or cut_err,
            layers=layers,
        )


def _read_capped(path: Path, limit: int) -> tuple[str, bool]:
    """A captured stream as text, cut to about ``limit`` characters (head and tail kept).

    A huge file is never read whole: only enough bytes for the head and the tail.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size <= 4 * limit:  # a character is at most 4 bytes in UTF-8
            return truncate(f.read().decode("utf-8", "replace"), limit)
        tail_chars = limit // 5
        head = f.read(4 * limit).decode("utf-8", "replace")[: limit - tail_chars]
        f.seek(max(size - 4 * tail_chars, 0))
        tail = f.read().decode("utf-8", "replace")[-tail_chars:] if tail_chars else ""
    marker = f"\n... [output truncated: about {size - limit} of {size} bytes left out] ...\n"
    return head + marker + tail, True


def _which_limit(exit_code: int, stderr: str) -> Limit | None:
    if exit_code == _MEMORY_EXIT or (exit_code != 0 and "MemoryError" in stderr[-2000:]):
        return "memory"
    if exit_code == -signal.SIGXCPU:
        return "cpu"
    # Python ignores SIGXFSZ, so an oversized write fails with EFBIG instead of killing it.
    if exit_code == -signal.SIGXFSZ or (exit_code != 0 and _EFBIG in stderr[-2000:]):
        return "file_size"
    return None


def python_tool(
    workdir: str | os.PathLike[str] | None = None,
    *,
    timeout_s: float = 10.0,
    memory_mb: int = 512,
    max_output_chars: int = 8_000,
    name: str = "python",
    **sandbox_options: Any,
) -> Tool:
    """A tool that runs Python code in a :class:`Sandbox` and returns what it printed.

    A run that exits non-zero or hits a limit is a failed ``ToolResult`` whose
    error says why (``time limit of 5 s reached``), with the output attached.
    The returned tool's ``sandbox`` attribute is the :class:`Sandbox` (its
    ``workdir``, and ``close()`` to remove a temporary one). Other keyword
    arguments go to :class:`Sandbox`.

    Example:
        >>> from dramaturg.tools import ToolSet, ToolCall
        >>> tools = ToolSet([python_tool(timeout_s=5)])
        >>> tools.call_sync(ToolCall(name="python", arguments={"code": "print(2 ** 10)"})).output
        '1024'
        >>> tools["python"].sandbox.close()  # removes its temporary work folder
    """
    box = Sandbox(workdir, timeout_s=timeout_s, memory_mb=memory_mb, max_output_chars=max_output_chars,
                  **sandbox_options)  # fmt: skip

    async def python(code: str) -> str:
        run = await box.run(code)
        if run.limit == "time":
            raise ToolError(
                f"time limit of {box.timeout_s:g} s reached; the code was stopped.\n{run.report()}"
            )
        if run.limit == "memory":
            raise ToolError(f"memory limit of {box.memory_mb} MB reached.\n{run.report()}")
        if run.limit is not None:
            raise ToolError(f"{run.limit} limit reached; the code was stopped.\n{run.report()}")
        if run.exit_code != 0:
            raise ToolError(f"the code failed.\n{run.report()}")
        return run.report()

    python.__doc__ = (
        "Run Python 3 code in a sandbox and return what it prints (use print()).\n\n"
        f"Each call starts a fresh interpreter; files written to the current folder persist. "
        f"No network; limits: {timeout_s:g} s, {memory_mb} MB.\n\n"
        "Args:\n    code: the Python source to run."
    )
    # The toolset's own timeout is a backstop: the sandbox kills the process first.
    t = Tool.from_function(
        python, name=name, timeout_s=timeout_s + 10, max_output_chars=2 * max_output_chars + 500
    )
    t.sandbox = box  # type: ignore[attr-defined]  # for callers that want the work folder or close()
    return t
