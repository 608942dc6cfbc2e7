"""The sandbox cannot read its parent's secrets, and nothing it starts outlives it.

Reproduces two findings of an attack run: code read the parent's
OPENAI_API_KEY from /proc/<ppid>/environ, and `_posixsubprocess.fork_exec`
forked past the audit hook, leaving a setsid'd child writing after the run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from dramaturg.tools import Sandbox
from tests.tools._sandbox import (
    NOBODY,
    NONE,
    capabilities,
    make_box,
    only,
    require,
    run,
    run_as_nobody,
    run_elsewhere,
)

# Looks everywhere it can for DRAMATURG_TEST_SECRET=...: its own environment, and the
# environ, cmdline and anonymous memory of every process it can see, the parent's and
# PID 1's by name (HOST_PPID: the pid of the process holding the secret, as the host sees it).
HUNT = r"""
import json, os, re
pattern = re.compile(rb"DRAMATURG_TEST_SECRET=([A-Za-z0-9-]+)")
found, tried = set(), {}

def scan(data, where):
    for match in pattern.finditer(data):
        found.add(match.group(1).decode() + " in " + where)

def read(path):
    try:
        with open(path, "rb") as f:
            scan(f.read(1 << 20), path)
        tried[path] = "read"
    except OSError as exc:
        tried[path] = type(exc).__name__

def read_memory(pid):
    path = f"/proc/{pid}/mem"
    try:
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read().splitlines()
        mem = open(path, "rb")
    except OSError as exc:
        tried[path] = type(exc).__name__
        return
    with mem:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            named = len(fields) > 5 and fields[5] not in ("[heap]", "[stack]")
            if fields[1][0] != "r" or named or end - start > 64 << 20:
                continue
            try:
                mem.seek(start)
                scan(mem.read(end - start), path)
            except (OSError, OverflowError, ValueError):
                continue
    tried[path] = "read"

scan("\n".join(f"{k}={v}" for k, v in os.environ.items()).encode(), "os.environ")
pids = {p for p in os.listdir("/proc") if p.isdigit()} | {str(os.getppid()), "1", "HOST_PPID"}
for pid in sorted(pids, key=int):
    read(f"/proc/{pid}/environ")
    read(f"/proc/{pid}/cmdline")
for pid in sorted(pids, key=int):
    if not found:  # (the control finds it at once; no need to read every process's memory)
        read_memory(pid)
visible = sorted(p for p in os.listdir("/proc") if p.isdigit())
print(json.dumps({"ppid": os.getppid(), "host_ppid": "HOST_PPID", "visible": visible,
                  "tried": tried, "found": sorted(found)}))
"""


@pytest.mark.parametrize("layer", ["all", "pidns", "capabilities", "none"])
def test_cannot_read_the_parents_environment_or_memory(layer, tmp_path, available):
    require(layer, available)
    if layer != "none" and not available["pidns"] and not capabilities():
        pytest.skip("no PID namespace and no capabilities to drop: the parent's environment "
                    "is readable here (docs/security.md, 'Without privileges')")  # fmt: skip
    secret = f"sk-{uuid.uuid4().hex}"
    options = {"workdir": str(tmp_path), "timeout_s": 60, "max_output_chars": 10**7, **only(layer)}
    result = run_elsewhere(options, HUNT, env={"DRAMATURG_TEST_SECRET": secret})
    assert result["exit_code"] == 0, result["stderr"]
    report = json.loads(result["stdout"])
    found = [f for f in report["found"] if f.startswith(secret)]
    if layer == "none":  # the control: the same hunt does find it
        assert any("/environ" in f for f in found), report
        return
    assert found == [], found
    ppid, host_ppid, tried = report["ppid"], report["host_ppid"], report["tried"]
    parent = [f"/proc/{ppid}/environ", f"/proc/{ppid}/mem", "/proc/1/environ"]
    parent += [f"/proc/{host_ppid}/environ", f"/proc/{host_ppid}/mem"]  # the secret's holder
    for path in parent:
        assert path in tried  # looked at: unreadable, or read and held nothing of the parent
    active = result["layers"]
    if active["pidns"] and active["proc"]:
        assert ppid == 1  # the sandbox's own init; the host's processes are not there at all
        assert report["visible"] == ["1", "2"]
        assert tried[f"/proc/{host_ppid}/environ"] == "FileNotFoundError"
    if active["capabilities"]:
        for path in parent:
            assert tried[path] in ("PermissionError", "FileNotFoundError"), (path, tried[path])


@pytest.fixture
def nobodys_folders():
    base = Path(tempfile.mkdtemp(prefix="dramaturg-nobody-"))  # /tmp: reachable by uid 65534
    for folder in (base, base / "work", base / "home"):
        folder.mkdir(exist_ok=True)
        try:
            os.chown(folder, NOBODY, NOBODY)
        except PermissionError:
            shutil.rmtree(base, ignore_errors=True)
            pytest.skip("cannot give folders to uid 65534 here (needs root)")
    yield base / "work", base / "home"
    shutil.rmtree(base, ignore_errors=True)


def test_an_unprivileged_user_gets_every_layer_through_a_user_namespace(nobodys_folders):
    """Not root: the namespaces come from an unprivileged user namespace, where allowed."""
    work, home = nobodys_folders
    secret = f"sk-{uuid.uuid4().hex}"
    options = {"workdir": str(work), "timeout_s": 60, "max_output_chars": 10**7}
    result = run_as_nobody(options, HUNT, home, env={"DRAMATURG_TEST_SECRET": secret})
    layers = result["layers"]
    if not layers["userns"]:
        pytest.skip(f"no unprivileged user namespaces here: {layers['skipped']['userns']}")
    assert result["exit_code"] == 0, result["stderr"]
    assert "skipped" not in layers, layers
    assert all(layers[k] for k in ("netns", "pidns", "proc", "disk_mb", "landlock", "seccomp"))
    report = json.loads(result["stdout"])
    assert report["visible"] == ["1", "2"] and report["ppid"] == 1
    assert not [f for f in report["found"] if f.startswith(secret)]


FORK_EXEC = """
import os
marker = "forked.txt"

def preexec():  # runs in the forked child, before exec
    with open(marker, "a") as f:
        f.write("x")
    os._exit(0)

ok = refused = 0
for _ in range(60):
    try:
        import _posixsubprocess
        r, w = os.pipe()
        _posixsubprocess.fork_exec(
            [b"/bin/true"], [b"/bin/true"], True, (w,), None, None, -1, -1, -1, -1, -1, -1,
            r, w, False, True, -1, None, None, None, -1, preexec, False)
        ok += 1
    except (PermissionError, OSError) as exc:
        refused += 1
        error = f"{type(exc).__name__}: {exc}"
print(ok, refused, error if refused else "")
"""


@pytest.mark.parametrize("layer", ["all", "audit_hook", "seccomp", "none"])
def test_fork_exec_is_refused(layer, tmp_path, available):
    box = make_box(layer, available, tmp_path, max_disk_mb=0)
    result = run(box, FORK_EXEC)
    assert result.ok, result.stderr
    ok, refused, error = result.stdout.split(" ", 2)
    if layer == "none":  # the control: the finding's attack, as it was
        assert (ok, refused) == ("60", "0") and (tmp_path / "forked.txt").exists()
        return
    assert (ok, refused) == ("0", "60")
    assert not (tmp_path / "forked.txt").exists()
    if layer == "audit_hook":
        assert "_posixsubprocess.fork_exec" in error
    if layer == "seccomp":
        assert "Operation not permitted" in error


# A child detaches (setsid, double fork) and appends to a file every 0.1 s.
DETACH = """
import os, time
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            with open(BEAT, "a") as f:
                f.write(".")
            time.sleep(0.1)
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.6)
print("beating", os.path.getsize(BEAT), flush=True)
END
"""


def assert_stopped(beat) -> None:
    size = beat.stat().st_size
    assert size >= 3  # the detached child really ran
    time.sleep(0.6)
    assert beat.stat().st_size == size  # and is dead now


@pytest.mark.parametrize("ending", ["returns", "times out"])
@pytest.mark.parametrize("layer", ["pidns", "none"])
def test_detached_children_die_with_the_run(layer, ending, tmp_path, available):
    """With the PID namespace: its init dies, the kernel kills the rest.

    Without it (``none``: every layer off), the outer process is a child
    subreaper and kills every descendant it inherits.
    """
    beat = tmp_path / "outside-beat.txt"  # outside: visible to the host as it is written
    end = "while True: pass" if ending == "times out" else ""
    code = DETACH.replace("BEAT", repr(str(beat))).replace("END", end)
    box = make_box(layer, available, tmp_path / "work", max_disk_mb=0, timeout_s=2)
    result = run(box, code)
    assert result.stdout.startswith("beating"), result.stderr
    assert result.limit == ("time" if ending == "times out" else None)
    assert_stopped(beat)


def test_detached_children_die_without_privileges(tmp_path):
    """Where namespaces are refused (uid 0 without capabilities: no CAP_SYS_ADMIN, and no
    CAP_SETFCAP to map uid 0 into a user namespace), the run degrades, says so, and
    still kills what the code left running."""
    beat = tmp_path / "work" / "beat.txt"  # no tmpfs without namespaces: the host folder
    code = DETACH.replace("BEAT", repr(str(beat))).replace("END", "")
    options = {"workdir": str(tmp_path / "work"), "timeout_s": 20, "audit_hook": False,
               "seccomp": False}  # fmt: skip
    result = run_elsewhere(options, code, drop_capabilities=True)
    assert result["stdout"].startswith("beating"), result["stderr"]
    layers = result["layers"]
    assert (layers["pidns"], layers["proc"], layers["netns"], layers["disk_mb"]) == (
        False, False, False, 0,
    )  # fmt: skip
    assert {"userns", "pidns", "proc", "disk_mb", "netns"} <= set(layers["skipped"])
    assert "CAP_SYS_ADMIN" in layers["skipped"]["pidns"]
    assert_stopped(beat)


def test_layers_report_lists_every_layer(tmp_path, available):
    run_ = Sandbox(tmp_path, timeout_s=20).run_sync("import os; print(os.getpid())")
    assert set(run_.layers) >= {"landlock", "audit_hook", "netns", "userns", "pidns", "proc",
                                "disk_mb", "capabilities", "seccomp"}  # fmt: skip
    if available["pidns"]:
        assert run_.stdout == "2\n"  # PID 1 is the sandbox's init
        assert run_.layers["disk_mb"] == 256
    off = Sandbox(tmp_path, timeout_s=20, **NONE).run_sync("pass").layers
    assert not any(off[k] for k in ("pidns", "proc", "capabilities", "seccomp", "netns"))
    assert "skipped" not in off  # turned off is not skipped


def test_seccomp_allows_threads_but_not_processes(tmp_path, available):
    box = make_box("seccomp", available, tmp_path)
    result = run(
        box,
        """
        import os, threading
        out = []
        t = threading.Thread(target=lambda: out.append(sum(range(10))))
        t.start(); t.join()
        try:
            os.fork()
            print("forked")
        except OSError as exc:
            print(out, exc.strerror)
    """,
    )
    assert result.stdout == "[45] Operation not permitted\n", result.stderr


@pytest.mark.parametrize("layer", ["all", "none"])
def test_exit_status_comes_through_the_supervisors(layer, tmp_path, available):
    box = make_box(layer, available, tmp_path)
    assert box.run_sync("import sys; sys.exit(3)").exit_code == 3
    killed = box.run_sync("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert killed.exit_code == -9 and killed.limit is None
