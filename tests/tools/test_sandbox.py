"""The sandboxed Python tool: what it may do, what it may not, and its limits.

Escape attempts run once per isolation layer on its own (the others turned
off), so each layer is proven to hold by itself, and once with all layers.
A layer the kernel here does not offer is skipped, with the reason. See also
``test_sandbox_isolation.py`` (processes, secrets), ``test_sandbox_disk.py``
and ``test_sandbox_hook.py``.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from dramaturg.tools import Sandbox, ToolCall, ToolSet, python_tool
from tests.tools._sandbox import NONE, make_box, run


def test_can_read_write_and_print_inside_its_folder(dirs, available):
    work, _ = dirs
    box = make_box("all", available, work)
    result = run(
        box,
        """
        import os, pathlib, shutil, tempfile, json
        pathlib.Path("notes").mkdir()
        pathlib.Path("notes/a.txt").write_text("alpha")
        shutil.copy("notes/a.txt", "b.txt")
        os.rename("b.txt", "c.txt")
        with tempfile.NamedTemporaryFile("w", delete=False) as f:  # TMPDIR is the work folder
            f.write("t")
        os.remove(f.name)
        print(open("inside.txt").read(), open("c.txt").read(), sorted(os.listdir(".")))
    """,
    )
    assert result.ok, result.stderr
    assert result.stdout == "mine alpha ['c.txt', 'inside.txt', 'notes']\n"
    assert (work / "notes" / "a.txt").read_text() == "alpha"
    assert result.layers["audit_hook"] is True


ESCAPES = {
    "open-tmp": "open({tmp!r}, 'w').write('x')",
    "os.remove": "os.remove({outside!r} + '/keep.txt')",
    "pathlib.write_text": "pathlib.Path({outside!r}, 'p.txt').write_text('x')",
    "shutil.copy": "shutil.copy('inside.txt', {outside!r} + '/copy.txt')",
    "os.rename": "os.rename('inside.txt', {outside!r} + '/moved.txt')",
    "relative-path": "open('../outside/rel.txt', 'w').write('x')",
    "symlink": "os.symlink({outside!r} + '/link.txt', 'link'); open('link', 'w').write('x')",
    "dir_fd": "fd = os.open({outside!r}, os.O_RDONLY)\nos.open('dfd.txt', os.O_WRONLY | os.O_CREAT, dir_fd=fd)",
    "dir_fd-dotdot": (
        "os.makedirs('a/b'); os.chdir('a/b'); fd = os.open({work!r}, os.O_RDONLY)\n"
        "os.open('../../outside/dd.txt', os.O_WRONLY | os.O_CREAT, dir_fd=fd)"
    ),
    "symlink-relative": "os.symlink('../outside', 'up'); open('up/sl.txt', 'w').write('x')",
    "os.system": "print(os.system('touch {outside}/sys.txt'))",
    "subprocess": "subprocess.run(['touch', {outside!r} + '/sub.txt'])",
    "os.fork": "pid = os.fork()\nif pid == 0: open({outside!r} + '/fork.txt', 'w'); os._exit(0)\nos.waitpid(pid, 0)",
}


@pytest.mark.parametrize("layer", ["all", "audit_hook", "landlock"])
@pytest.mark.parametrize("attempt", list(ESCAPES))
def test_cannot_write_outside_its_folder(attempt, layer, dirs, available):
    work, outside = dirs
    tmp = f"/tmp/dramaturg-escape-{uuid.uuid4().hex}"
    box = make_box(layer, available, work)
    code = "import os, pathlib, shutil, subprocess\n" + ESCAPES[attempt].format(
        tmp=tmp, outside=str(outside), work=str(work)
    )
    result = run(box, code)
    assert not Path(tmp).exists()
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "precious"
    assert (work / "inside.txt").exists()
    if not (layer == "landlock" and attempt == "os.fork"):  # there the child fails, not the parent
        # It failed loudly (an exception) or, for os.system, with a failing status.
        assert not result.ok or result.stdout.strip() not in ("", "0"), result


def test_controls_unconfined_code_does_escape(dirs):
    """With every layer off, the same attempts succeed: the checks above can fail."""
    work, outside = dirs
    bare = Sandbox(work, timeout_s=20, **NONE)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(5)
    try:
        result = run(
            bare,
            f"""
            import socket
            open({str(outside)!r} + '/escaped.txt', 'w').write('x')
            socket.create_connection(("127.0.0.1", {listener.getsockname()[1]}), timeout=3).close()
        """,
        )
        assert result.ok, result.stderr
        assert (outside / "escaped.txt").exists()
        listener.accept()[0].close()  # the connection arrived
    finally:
        listener.close()


@pytest.mark.parametrize("layer", ["all", "audit_hook", "netns", "landlock"])
def test_cannot_reach_the_network(layer, tmp_path, available):
    if layer == "landlock" and available.get("landlock", 0) < 4:
        pytest.skip("Landlock network rules need ABI 4")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    box = make_box(layer, available, tmp_path)
    resolve = layer != "landlock"  # Landlock governs TCP only; a lookup could leave by UDP
    code = f"""
        import socket
        for attempt in ("raw", "create_connection"{', "resolve"' if resolve else ""}):
            try:
                if attempt == "raw":
                    socket.socket().connect(("127.0.0.1", {port}))
                elif attempt == "create_connection":
                    socket.create_connection(("127.0.0.1", {port}), timeout=3)
                else:
                    socket.getaddrinfo("example.com", 443)
                print(attempt, "SUCCEEDED")
            except OSError as exc:
                print(attempt, "refused:", type(exc).__name__)
    """
    try:
        result = run(box, code)
        assert result.ok, result.stderr
        assert "SUCCEEDED" not in result.stdout
        assert result.stdout.count("refused") == (3 if resolve else 2)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever reached the listener
    finally:
        listener.close()


@pytest.mark.parametrize("layer", ["all", "audit_hook", "seccomp", "none"])
def test_cannot_reach_unix_sockets(layer, tmp_path, available):
    """A Unix socket's path (the Docker or systemd socket, say) is reachable from any network
    namespace and Landlock does not cover connecting to it: seccomp refuses
    socket(AF_UNIX), the hook refuses the connect."""
    path = str(tmp_path / "s.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(8)
    listener.setblocking(False)
    box = make_box(layer, available, tmp_path / "work")
    code = f"""
        import asyncio, socket
        asyncio.run(asyncio.sleep(0))  # socketpair, used by every event loop, still works
        try:
            socket.socket(socket.AF_UNIX).connect({path!r})
            print("connected")
        except OSError as exc:
            print("refused:", type(exc).__name__)
    """
    try:
        result = run(box, code)
        assert result.ok, result.stderr
        if layer == "none":  # the control
            assert result.stdout == "connected\n"
            listener.accept()[0].close()
            return
        assert result.stdout == "refused: PermissionError\n"
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_hook_refuses_native_escapes(tmp_path, available):
    box = make_box("audit_hook", available, tmp_path)
    result = run(
        box,
        """
        import gc
        for attempt in ("import ctypes; ctypes.CDLL(None)", "gc.get_objects()"):
            try:
                exec(attempt)
                print("ALLOWED", attempt)
            except PermissionError as exc:
                print("refused", exc)
    """,
    )
    assert "ALLOWED" not in result.stdout and result.stdout.count("refused") == 2


def test_time_limit_is_hit_and_reported(tmp_path):
    tools = ToolSet([python_tool(tmp_path, timeout_s=1)])
    result = tools.call_sync(
        ToolCall(
            name="python", arguments={"code": "print('started', flush=True)\nwhile True: pass"}
        )
    )
    assert not result.ok
    assert result.error.startswith("time limit of 1 s reached; the code was stopped.")
    assert "started" in result.error and "[stopped: time limit reached]" in result.error
    assert result.duration_s < 8


def test_memory_limit_is_hit_and_reported(tmp_path):
    tools = ToolSet([python_tool(tmp_path, timeout_s=10, memory_mb=128)])
    result = tools.call_sync(
        ToolCall(name="python", arguments={"code": "x = bytearray(1024 * 1024 * 1024)"})
    )
    assert not result.ok
    assert result.error.startswith("memory limit of 128 MB reached.")
    box = Sandbox(tmp_path, timeout_s=10, memory_mb=128)
    run_ = box.run_sync("x = bytearray(1024 * 1024 * 1024)")
    assert (run_.limit, run_.ok) == ("memory", False)
    small = box.run_sync("x = bytearray(16 * 1024 * 1024); print(len(x))")
    assert small.ok and small.stdout == "16777216\n"


def test_file_size_limit_is_hit_and_reported(tmp_path):
    box = Sandbox(tmp_path, timeout_s=10, max_file_mb=1)
    result = box.run_sync("open('big.bin', 'wb').write(b'0' * 3 * 1024 * 1024)")
    assert result.limit == "file_size"
    assert (tmp_path / "big.bin").stat().st_size <= 1024 * 1024


def test_output_is_capped_and_errors_come_back(tmp_path):
    tools = ToolSet([python_tool(tmp_path, timeout_s=10, max_output_chars=1000)])
    long = tools.call_sync(
        ToolCall(name="python", arguments={"code": "print('x' * 100_000); print('END')"})
    )
    assert long.ok and "[output truncated:" in long.output and long.output.endswith("END")
    assert len(long.output) < 1500
    failed = tools.call_sync(ToolCall(name="python", arguments={"code": "print('before')\n1 / 0"}))
    assert not failed.ok
    assert failed.error.startswith("the code failed.\nbefore\n[stderr]\nTraceback")
    assert failed.error.endswith("ZeroDivisionError: division by zero\n[exit status 1]")
    assert '"<string>"' not in failed.error  # no bootstrap frames
    refused = tools.call_sync(ToolCall(name="python", arguments={"code": "open('/etc/x', 'w')"}))
    assert refused.error.endswith(
        '  File "<code>", line 1, in <module>\n'
        "PermissionError: sandbox: writing '/etc/x' (outside the work folder) is not allowed\n[exit status 1]"
    )


def test_files_persist_between_calls_but_state_does_not(tmp_path):
    tools = ToolSet([python_tool(tmp_path, timeout_s=10)])
    tools.call_sync(
        ToolCall(name="python", arguments={"code": "x = 1\nopen('kept.txt', 'w').write('yes')"})
    )
    again = tools.call_sync(
        ToolCall(
            name="python", arguments={"code": "print(open('kept.txt').read(), 'x' in globals())"}
        )
    )
    assert again.output == "yes False"


def test_owned_workdir_is_removed_on_close():
    box = Sandbox(timeout_s=10)
    assert box.run_sync("open('f', 'w').write('1')").ok
    assert (box.workdir / "f").exists()
    box.close()
    assert not box.workdir.exists()
