"""Runs *inside* the sandbox child (``python -I -B -X utf8 -c <stub> <this file> <config>``).

It must not import dramaturg (the child runs in isolated mode): the stub
loads this file by path and calls :func:`main`, which loads its helpers
``_confine``, ``_audit`` and ``_workcopy`` the same way (from their cached
bytecode when there is some, which saves compiling them on every run).
Three processes, each with one job:

1. the **outer** process (started by :class:`Sandbox`): sets the rlimits, enters
   new network and PID namespaces where allowed (through a user namespace
   when not privileged); it is a child subreaper, so without a PID namespace
   it is the one that kills what the code left running;
2. the **init** (PID 1 of the new namespace; skipped without one): a private
   mount namespace with a fresh /proc, a tiny /dev and the work folder on a
   size-capped tmpfs (copied in before, changes copied back after); it
   enforces the wall-clock limit and, by exiting, has the kernel kill every
   process left in the namespace;
3. the **runner**: Landlock, seccomp, no capabilities, the audit hook, then
   the user's code as ``__main__``.
"""

import sys

MEMORY_EXIT = 86  # the code ran out of memory (sandbox.py reads these two)
TIME_EXIT = 87  # the wall-clock limit was reached


def _load(name, path):
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location(name, path)
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _supervise(pid, timeout, kill_rest):
    """Wait for the runner, killing it at the time limit; then kill what it left behind."""
    import os
    import signal

    expired = []

    def on_alarm(signum, frame):
        expired.append(True)
        os.kill(pid, signal.SIGKILL)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    _, status = os.waitpid(pid, 0)  # retried after the handler (PEP 475)
    signal.setitimer(signal.ITIMER_REAL, 0)
    kill_rest()
    return status, bool(expired)


def _init(config, confine, workcopy, layers, skipped, report_fd, run):
    """PID 1 of the sandbox's namespace; ``run(close_fds)`` becomes the runner."""
    import json
    import os
    import signal

    confine.die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # PID 1 ignores signals it has no handler for
    workdir, host_fd, work_fd, before = config["workdir"], None, None, None
    try:
        if not confine.unshare(confine.CLONE_NEWNS):
            raise OSError("unshare(CLONE_NEWNS) was refused")
        confine.private_mounts()
        confine.fresh_proc()
        os.mkdir(config["private"] + "/dev", 0o755)
        confine.private_dev(config["private"] + "/dev")
        layers["proc"] = True
    except OSError as exc:
        skipped["proc"] = str(exc)
    if layers["proc"] and config["max_disk_mb"]:
        mounted = False
        try:
            host_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            size, entries = workcopy.usage(host_fd)
            cap = config["max_disk_mb"] * 1024 * 1024
            confine.work_tmpfs(workdir, max(cap, size), max(16384, 2 * entries),
                               os.fstat(host_fd).st_mode)  # fmt: skip
            mounted = True
            work_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            before = workcopy.copy_in(host_fd, work_fd)
            layers["disk_mb"] = max(cap, size) // (1024 * 1024)
        except OSError as exc:
            skipped["disk_mb"] = str(exc)
            if mounted:  # the code must not see a half-copied folder, nor lose its writes
                report = {"error": f"copying the work folder in: {exc}"}
                os.write(report_fd, json.dumps(report).encode())
                os._exit(1)
    os.chdir(workdir)  # onto the tmpfs, if there is one
    pid = os.fork()
    if pid == 0:
        run([fd for fd in (host_fd, work_fd, report_fd) if fd is not None])

    def kill_rest():  # PID 1 may signal every process in its namespace at once
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break

    status, expired = _supervise(pid, config["timeout_s"], kill_rest)
    errors = workcopy.copy_out(work_fd, host_fd, before)[:20] if before is not None else []
    report = {"status": status, "expired": expired, "errors": errors}
    os.write(report_fd, json.dumps(report).encode())
    os._exit(0)


def _run(config, source, status_fd, layers, skipped, confine, audit, close_fds):
    """The runner: the last confinement layers, then the code. Never returns."""
    import json
    import os
    import resource

    for fd in close_fds:
        os.close(fd)
    if not layers["pidns"]:
        confine.die_with_parent()
    workdir = config["workdir"]
    os.chdir(workdir)
    fsize = config["max_file_mb"] * 1024 * 1024
    for res, value in ((resource.RLIMIT_FSIZE, fsize), (resource.RLIMIT_NOFILE, 256)):
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass
    if config["landlock"]:
        try:
            layers["landlock"] = confine.landlock(workdir)
        except Exception:
            layers["landlock"] = 0
    if config["seccomp"]:
        layers["seccomp"] = confine.restrict_syscalls()
    if config["capabilities"]:
        layers["capabilities"] = confine.drop_capabilities()
    if config["audit_hook"]:
        audit.install(workdir)
        layers["audit_hook"] = True
    try:
        layers["netns"] = os.readlink("/proc/self/ns/net") != config["parent_netns"]
    except OSError:
        layers["netns"] = False
    for name in ("netns", "seccomp", "capabilities"):
        if config[name if name != "netns" else "network_namespace"] and not layers[name]:
            skipped.setdefault(name, "not permitted or not supported here")
    if skipped:
        layers["skipped"] = skipped
    os.write(status_fd, json.dumps(layers).encode())
    os.close(status_fd)
    _exec_code(source, workdir)
    sys.exit(0)  # unwinds through the caller's frames to a normal interpreter exit


def _exec_code(source, workdir):
    import builtins
    import os

    sys.argv = ["<code>"]
    sys.path[0] = workdir
    module = type(sys)("__main__")
    module.__builtins__ = builtins  # the module, as in any __main__
    sys.modules["__main__"] = module
    try:
        code = compile(source, "<code>", "exec")
    except SyntaxError:
        import traceback

        traceback.print_exc(limit=0)
        sys.exit(1)
    del source
    try:
        exec(code, module.__dict__)
    except MemoryError:
        sys.stderr.write("MemoryError: the sandbox's memory limit was reached\n")
        sys.stderr.flush()
        os._exit(MEMORY_EXIT)
    except SystemExit:
        raise
    except BaseException as exc:
        import traceback

        # Show the user's frames (and the library's), not this bootstrap's or the hook's.
        ours = {"<string>", *_HELPERS}
        report = traceback.TracebackException(type(exc), exc, exc.__traceback__.tb_next)
        seen, level = set(), report
        while level is not None and id(level) not in seen:  # and in chained exceptions
            seen.add(id(level))
            level.stack = traceback.StackSummary.from_list(
                [f for f in level.stack if f.filename not in ours]
            )
            level = level.__cause__ or level.__context__
        sys.stderr.write("".join(report.format()))
        sys.exit(1)


def _exit_like(status, expired):
    """End the outer process the way the runner ended (a signal as a signal)."""
    import os
    import signal

    if expired:
        os._exit(TIME_EXIT)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL's cannot be changed, nor need to be
            pass
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def _namespaces(config, confine, layers, skipped):
    """Enter new network and PID namespaces: directly where privileged, else from inside
    a new user namespace (unprivileged, where the kernel allows it)."""
    wanted = {}
    if config["network_namespace"]:
        wanted[confine.CLONE_NEWNET] = False
    if config["pid_namespace"]:
        wanted[confine.CLONE_NEWPID] = False
    for attempt in ("direct", "user namespace"):
        if attempt == "user namespace":
            if all(wanted.values()):
                break
            layers["userns"] = confine.enter_user_namespace()
            if not layers["userns"]:
                skipped["userns"] = "refused (unprivileged user namespaces are off, or uid 0 "
                skipped["userns"] += "without CAP_SETFCAP)"
                break
        for flag, done in wanted.items():
            wanted[flag] = done or confine.unshare(flag)
    layers["pidns"] = wanted.get(confine.CLONE_NEWPID, False)
    if config["pid_namespace"] and not layers["pidns"]:
        reason = "unshare(CLONE_NEWPID) was refused (needs root, CAP_SYS_ADMIN or user namespaces)"
        for name in ("pidns", "proc", "disk_mb") if config["max_disk_mb"] else ("pidns", "proc"):
            skipped[name] = reason


def main():
    """The outer process: ``sys.argv`` is ``["-c", <this file>, <config as JSON>]``."""
    import json
    import os
    import resource

    config = json.loads(sys.argv[2])
    _HELPERS.update([sys.argv[1], *config["modules"].values()])
    confine = _load("_confine", config["modules"]["_confine"])
    workcopy = _load("_workcopy", config["modules"]["_workcopy"])
    audit = _load("_audit", config["modules"]["_audit"])
    with open(config["code_path"], encoding="utf-8") as f:
        source = f.read()
    status_fd = os.open(config["status_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for res, value in (
        (resource.RLIMIT_AS, config["memory_mb"] * 1024 * 1024),
        (resource.RLIMIT_CPU, int(config["timeout_s"]) + 2),  # the wall clock fires first
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass
    layers = {"landlock": 0, "audit_hook": False, "netns": False, "userns": False,
              "pidns": False, "proc": False, "disk_mb": 0, "capabilities": False,
              "seccomp": False}  # fmt: skip
    skipped = {}
    confine.become_subreaper()
    _namespaces(config, confine, layers, skipped)
    report_r, report_w = os.pipe()

    def run(close_fds):
        _run(config, source, status_fd, layers, skipped, confine, audit, close_fds)

    pid = os.fork()
    if pid == 0:
        os.close(report_r)
        if layers["pidns"]:
            _init(config, confine, workcopy, layers, skipped, report_w, run)
        run([report_w])
    os.close(report_w)
    os.close(status_fd)
    if not layers["pidns"]:
        status, expired = _supervise(pid, config["timeout_s"], confine.kill_descendants)
        _exit_like(status, expired)
    with os.fdopen(report_r, "rb") as f:  # read first: a full pipe would block the init
        raw = f.read()
    os.waitpid(pid, 0)
    confine.kill_descendants()  # nothing should be left; a subreaper makes sure
    report = json.loads(raw) if raw else {"error": "the sandbox's init process died"}
    if "error" in report:
        sys.stderr.write(f"sandbox: {report['error']}\n")
        os._exit(1)
    for error in report["errors"]:
        sys.stderr.write(f"sandbox: could not save the work folder: {error}\n")
    if report["errors"] and os.WIFEXITED(report["status"]) and not report["expired"]:
        os._exit(os.WEXITSTATUS(report["status"]) or 1)
    _exit_like(report["status"], report["expired"])


_HELPERS = set()  # file names of the sandbox's own frames, left out of tracebacks
