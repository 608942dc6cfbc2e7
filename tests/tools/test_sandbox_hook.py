"""The audit hook on its own holds against the ways around it found so far.

Each attempt first tries to get past the hook, then tries to write outside
the work folder and to fork; the hook is the only layer on. Before the
hook was rebuilt (state in immutable defaults, paths copied to exact str),
the str-subclass, builtins and traceback-frame attempts all got through.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.tools._sandbox import capabilities, make_box, run

THEN = """
for what, attempt in (("WROTE", lambda: open(OUT + "/escaped.txt", "w").write("x")),
                      ("FORKED", lambda: os.fork() == 0 and os._exit(0))):
    try:
        attempt()
        print(what)
    except Exception as exc:
        print("refused:", type(exc).__name__)
"""

ATTEMPTS = {
    "str-subclass": """
        class S(str):
            def startswith(self, prefix): return False
            def split(self, *args): return ["x"]
        open(S(OUT + "/s.txt"), "w").write("x")
    """,
    "mode-subclass": """
        class M(str):
            def __contains__(self, c): return False
        open(OUT + "/m.txt", M("w")).write("x")
    """,
    "fspath-inside-first": """
        class P:
            calls = 0
            def __fspath__(self):
                P.calls += 1
                return "inside.txt" if P.calls % 2 else OUT + "/p.txt"
        open(P(), "w").write("x")
    """,
    "fspath-outside-first": """
        class P:
            calls = 0
            def __fspath__(self):
                P.calls += 1
                return OUT + "/p.txt" if P.calls % 2 else "inside.txt"
        os.mkdir(P())
    """,
    "builtins": """
        import builtins
        builtins.isinstance = lambda *a: True
        builtins.any = lambda *a: False
        builtins.len = lambda *a: 0
        builtins.PermissionError = None
    """,
    "traceback-frame": """
        try:
            open("/etc/dramaturg-probe", "w")
        except PermissionError as exc:
            tb = exc.__traceback__
        frames = []
        while tb is not None:
            frames.append(tb.tb_frame)
            tb = tb.tb_next
        hook = [f for f in frames if f.f_code.co_name == "hook"][0]
        found = dict(hook.f_locals)
        for value in found.values():
            for set_ in (set, frozenset):
                if isinstance(value, set_) and hasattr(value, "clear"):
                    value.clear()
        functions = [v for v in found.get("_guarded", ()) if callable(v)]
        print("reached", len(functions) > 3)
        for f in functions:
            for attr, new in (("__defaults__", None), ("__code__", (lambda *a: True).__code__)):
                try:
                    setattr(f, attr, new)
                except (PermissionError, TypeError, ValueError, AttributeError):
                    pass
            for cell in getattr(f, "__closure__", None) or ():
                cell.cell_contents = None
            if getattr(f, "__kwdefaults__", None):
                f.__kwdefaults__.clear()
    """,
    "setuid": """
        open("x", "w").write("x")
        os.chmod("x", 0o4755)
    """,
    "settrace": """
        import sys
        sys.settrace(lambda frame, event, arg: None)
    """,
    "reimport-posixsubprocess": """
        import sys
        del sys.modules["_posixsubprocess"]
        import _posixsubprocess
        os.fork = lambda: _posixsubprocess.fork_exec(*([None] * 23))
    """,
    "load-posixsubprocess": """
        import importlib.machinery, importlib.util
        spec = importlib.machinery.PathFinder.find_spec("_posixsubprocess")
        module = importlib.util.module_from_spec(spec)
    """,
}


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
def test_hook_cannot_be_talked_around(attempt, dirs, available):
    if attempt == "load-posixsubprocess" and "_posixsubprocess" in sys.builtin_module_names:
        pytest.skip("_posixsubprocess is built in here; see docs/security.md")
    work, outside = dirs
    box = make_box("audit_hook", available, work, max_disk_mb=0)
    code = "import os\nOUT = " + repr(str(outside)) + "\n"
    code += "try:\n" + "\n".join("    " + line for line in ATTEMPTS[attempt].splitlines())
    code += "\nexcept Exception as exc:\n    print('attempt failed:', type(exc).__name__)\n"
    result = run(box, code + THEN)
    assert "WROTE" not in result.stdout and "FORKED" not in result.stdout, result
    assert result.stdout.count("refused") == 2, result
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    if attempt == "traceback-frame":  # it did get hold of the hook's frame and functions
        assert "reached True" in result.stdout, result
    elif attempt == "fspath-inside-first":  # open() converts the path once; the hook sees
        assert (work / "inside.txt").read_text() == "x"  # that, and it writes inside
    elif attempt != "builtins":  # (rebinding builtins is allowed; it just changes nothing)
        assert "attempt failed: PermissionError" in result.stdout, result
    if attempt == "setuid":
        assert not (work / "x").stat().st_mode & 0o6000


def test_subprocess_gets_the_refusing_stub(tmp_path, available):
    box = make_box("audit_hook", available, tmp_path, max_disk_mb=0)
    result = run(
        box,
        """
        import subprocess, _posixsubprocess
        print(subprocess._fork_exec is _posixsubprocess.fork_exec, _posixsubprocess.__spec__)
        try:
            subprocess._fork_exec(*([None] * 23))
        except PermissionError as exc:
            print(exc)
    """,
    )
    assert result.stdout.splitlines() == [
        "True None",
        "sandbox: starting processes (_posixsubprocess.fork_exec) is not allowed",
    ], result


def test_the_stub_replaces_references_taken_before_the_hook(tmp_path):
    """Should anything import subprocess before the hook, its reference is swapped too."""
    code = (
        "import subprocess, sys, _posixsubprocess\n"
        "kept = [_posixsubprocess.fork_exec]  # a module's globals are swapped; a list is not\n"
        "from dramaturg.tools import _audit\n"
        f"_audit.install({str(tmp_path)!r})\n"
        "print(subprocess._fork_exec is kept[0], subprocess._fork_exec.__module__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "False dramaturg.tools._audit\n", done.stderr


@pytest.mark.parametrize("layer", ["all", "landlock", "capabilities", "none"])
def test_cannot_create_device_files(layer, tmp_path, available):
    """A block device node in the work folder would give raw access to a disk.

    (``os.mknod`` raises no audit event, so the hook cannot see it; the tmpfs is
    mounted ``nodev`` as well.)
    """
    if layer == "none" and not capabilities() & (1 << 27):  # CAP_MKNOD
        pytest.skip("the control needs CAP_MKNOD, which this process does not have")
    box = make_box(layer, available, tmp_path, max_disk_mb=0)
    result = run(
        box,
        """
        import os, stat
        try:
            os.mknod("disk", stat.S_IFBLK | 0o600, os.makedev(7, 0))
            print("created")
        except OSError as exc:
            print("refused", type(exc).__name__)
    """,
    )
    if layer == "none":  # the control: root may, with no layer
        assert result.stdout == "created\n", result.stderr
    else:
        assert result.stdout.startswith("refused"), result
        assert not (tmp_path / "disk").exists()
