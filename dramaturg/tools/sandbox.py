"""A sandboxed Python tool: run model-written code in a locked-down child process.

There is no container here, so the isolation is built from layers, each of
which holds on its own (the tests turn each one off in turn to prove it).
The child is three processes (see ``_bootstrap.py``): an outer one, an init
in a new PID namespace, and the runner that executes the code.

================  ==========================================================
layer             what it gives
================  ==========================================================
process           ``sys.executable -I -B``: a fresh interpreter in its own
                  session, environment cleared, ``HOME``/``TMPDIR`` pointed
                  at the work folder; a child subreaper kills whatever the
                  code left running when it ends.
rlimits           ``RLIMIT_AS`` (memory), ``RLIMIT_CPU``, ``RLIMIT_FSIZE``
                  (largest file), ``RLIMIT_NOFILE``, ``RLIMIT_CORE=0``; a
                  wall-clock timeout kills the code.
network ns        ``unshare(CLONE_NEWNET)``: only a downed loopback.
PID ns            ``unshare(CLONE_NEWPID)``: the code sees only its own
                  processes, and all of them die with the run.
mount ns          a fresh /proc (no host process, the parent included), a
                  /dev with only null/zero/full/random/urandom, and the work
                  folder on a tmpfs capped at ``max_disk_mb``.
user ns           not root: the namespaces above come from an unprivileged
                  user namespace, where the kernel allows one.
Landlock          no writes outside the work folder, no ``execve``, no TCP,
                  no signals out (ABI >= 6), no device nodes.
seccomp           no new processes (``fork``/``vfork``/``clone`` without
                  ``CLONE_THREAD``; threads work), no ``socket(AF_UNIX)``.
capabilities      all dropped, bounding set included: root in the sandbox
                  cannot ptrace, mknod, mount, load modules or do raw I/O.
audit hook        ``sys.addaudithook`` (PEP 578) refusing network, writes
                  outside, process spawning (``_posixsubprocess`` included),
                  ``ctypes``, ``gc`` walks and tracing. A guard, not a wall.
================  ==========================================================

The namespaces need root, ``CAP_SYS_ADMIN`` or unprivileged user namespaces;
where they are refused they are skipped and :attr:`SandboxRun.layers` says so
(its ``"skipped"`` entry gives the reason). ``docs/security.md`` says what
each layer does not protect: notably, reads are not restricted.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import json
import os
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

Limit = Literal["time", "cpu", "memory", "file_size", "disk"]
_HERE = Path(__file__).parent
_BOOTSTRAP = str(_HERE / "_bootstrap.py")
_MODULES = {name: str(_HERE / f"{name}.py") for name in ("_confine", "_audit", "_workcopy")}
# The child's whole program: load _bootstrap.py by path (cached bytecode if any), run it.
_STUB = (
    "import sys\n"
    "from importlib.util import module_from_spec, spec_from_file_location\n"
    "spec = spec_from_file_location('_bootstrap', sys.argv[1])\n"
    "bootstrap = module_from_spec(spec)\n"
    "spec.loader.exec_module(bootstrap)\n"
    "bootstrap.main()\n"
)
_MEMORY_EXIT, _TIME_EXIT = 86, 87  # _bootstrap.MEMORY_EXIT, TIME_EXIT
_GRACE_S = 5.0  # after the time limit, for the child to save the work folder and exit
_EFBIG = f"[Errno {errno.EFBIG}]"
_ENOSPC = f"[Errno {errno.ENOSPC}]"


@functools.cache
def _compile_child_modules() -> None:
    """Write the child's modules' bytecode once (the child runs with -B, reads but never writes
    it); where the package folder is read-only the child compiles them itself."""
    import compileall

    for path in (_BOOTSTRAP, *_MODULES.values()):
        with contextlib.suppress(Exception):
            compileall.compile_file(path, quiet=2, optimize=0)  # the child runs without -O


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
        layers: which isolation layers were active (see the module docstring);
            its ``"skipped"`` entry, when present, says why a layer asked for is off.
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
        timeout_s: wall-clock limit per run; every process of the run is killed.
        memory_mb: address-space limit (``RLIMIT_AS``).
        max_file_mb: largest file the code may write (``RLIMIT_FSIZE``).
        max_disk_mb: most the work folder may hold while the code runs (a
            tmpfs; needs the PID namespace). ``0`` for no cap beyond ``max_file_mb``.
        max_output_chars: cap on each of stdout and stderr.
        network_namespace, pid_namespace, landlock, seccomp, capabilities,
            audit_hook: the optional layers; turn one off only to test the others.

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
        max_disk_mb: int = 256,
        max_output_chars: int = 8_000,
        network_namespace: bool = True,
        pid_namespace: bool = True,
        landlock: bool = True,
        seccomp: bool = True,
        capabilities: bool = True,
        audit_hook: bool = True,
    ) -> None:
        if timeout_s <= 0:
            raise ToolDefinitionError("timeout_s must be positive")
        if memory_mb < 64:
            raise ToolDefinitionError(
                "memory_mb must be at least 64 (the interpreter itself needs ~30 MB)"
            )
        if max_disk_mb < 0:
            raise ToolDefinitionError("max_disk_mb must be 0 (no cap) or a positive number")
        self._owned = workdir is None
        self.workdir = Path(
            tempfile.mkdtemp(prefix="dramaturg-sandbox-") if workdir is None else workdir
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = self.workdir.resolve()
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.max_file_mb = max_file_mb
        self.max_disk_mb = max_disk_mb
        self.max_output_chars = max_output_chars
        self.network_namespace = network_namespace
        self.pid_namespace = pid_namespace
        self.landlock = landlock
        self.seccomp = seccomp
        self.capabilities = capabilities
        self.audit_hook = audit_hook

    def close(self) -> None:
        """Remove the work folder if the sandbox created it."""
        if self._owned:
            shutil.rmtree(self.workdir, ignore_errors=True)

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

    def _config(self, private: Path) -> dict[str, Any]:
        return {
            "workdir": str(self.workdir),
            "private": str(private),
            "code_path": str(private / "code.py"),
            "status_path": str(private / "status.json"),
            "modules": _MODULES,
            "timeout_s": self.timeout_s,
            "memory_mb": self.memory_mb,
            "max_file_mb": self.max_file_mb,
            "max_disk_mb": self.max_disk_mb,
            "network_namespace": self.network_namespace,
            "pid_namespace": self.pid_namespace,
            "landlock": self.landlock,
            "seccomp": self.seccomp,
            "capabilities": self.capabilities,
            "audit_hook": self.audit_hook,
            "parent_netns": _parent_netns(),
        }

    async def _run(self, code: str, private: Path) -> SandboxRun:
        (private / "code.py").write_text(code, encoding="utf-8")
        _compile_child_modules()
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
        # No preexec_fn (unsafe with threads, and it rules out vfork): the child sets its
        # own limits and namespaces.
        with open(private / "stdout", "wb") as out, open(private / "stderr", "wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-I", "-B", "-X", "utf8", "-c", _STUB, _BOOTSTRAP,
                json.dumps(self._config(private)),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err, cwd=self.workdir, env=env,
                start_new_session=True,
            )  # fmt: skip
            try:
                # The child enforces the time limit itself (and saves the work folder);
                # this is the backstop should it hang.
                await asyncio.wait_for(proc.wait(), self.timeout_s + _GRACE_S)
            except TimeoutError:
                limit = "time"
            finally:
                # Whatever is left of the child's group (after the backstop) dies here.
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
    if exit_code == _TIME_EXIT:
        return "time"
    if exit_code == _MEMORY_EXIT or (exit_code != 0 and "MemoryError" in stderr[-2000:]):
        return "memory"
    if exit_code == -signal.SIGXCPU:
        return "cpu"
    # Python ignores SIGXFSZ, so an oversized write fails with EFBIG instead of killing it.
    if exit_code == -signal.SIGXFSZ or (exit_code != 0 and _EFBIG in stderr[-2000:]):
        return "file_size"
    if exit_code != 0 and _ENOSPC in stderr[-2000:]:
        return "disk"
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
        if run.limit == "disk":
            raise ToolError(
                f"the work folder is full (limit {box.max_disk_mb} MB).\n{run.report()}"
            )
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
