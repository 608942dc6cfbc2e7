"""The work folder's size is capped, and its changes come back to the host intact and contained.

Reproduces a finding of an attack run (1 GB written to the work folder). With
the PID namespace the folder is a size-capped tmpfs in the sandbox's own
mount namespace: copied in before the code runs, its changes copied back
after, through folder descriptors that never follow a symlink.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from dramaturg.tools import Sandbox, ToolCall, ToolSet, python_tool
from tests.tools._sandbox import make_box, require, run

FILL = """
written = 0
try:
    for i in range(1024):  # up to 1 GB, in 1 MB files under the per-file cap
        with open(f"fill-{i}.bin", "wb") as f:
            f.write(b"0" * (1 << 20))
        written += 1
finally:
    print(written, flush=True)
"""


def folder_size(path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.mark.parametrize("layer", ["all", "pidns"])
def test_writing_past_the_folder_cap_fails(layer, dirs, available):
    require("pidns", available)  # the cap is a tmpfs in the sandbox's mount namespace
    work, _ = dirs
    box = make_box(layer, available, work, max_disk_mb=4, max_file_mb=2)
    result = run(box, FILL)
    assert result.layers["disk_mb"] == 4
    assert result.limit == "disk", result.stderr
    assert "No space left on device" in result.stderr
    assert 2 <= int(result.stdout) <= 4
    # What fitted was kept, and nothing more.
    assert folder_size(work) <= 4 * 1024 * 1024
    assert (work / "fill-0.bin").stat().st_size == 1 << 20
    assert (work / "inside.txt").read_text() == "mine"


def test_the_tool_says_the_folder_is_full(tmp_path, available):
    require("pidns", available)
    tools = ToolSet([python_tool(tmp_path, timeout_s=20, max_disk_mb=2)])
    result = tools.call_sync(ToolCall(name="python", arguments={"code": FILL}))
    assert not result.ok
    assert result.error.startswith("the work folder is full (limit 2 MB).")


def test_a_folder_already_over_the_cap_is_kept_but_cannot_grow(tmp_path, available):
    require("pidns", available)
    (tmp_path / "big.bin").write_bytes(b"1" * (3 << 20))
    box = Sandbox(tmp_path, timeout_s=20, max_disk_mb=1)
    result = box.run_sync("print(len(open('big.bin', 'rb').read()))\n" + FILL)
    assert result.stdout.startswith("3145728\n"), result.stderr
    assert result.limit == "disk"
    assert (tmp_path / "big.bin").stat().st_size == 3 << 20


def test_changes_are_copied_back(tmp_path, available):
    require("pidns", available)
    (tmp_path / "old.txt").write_text("old")
    (tmp_path / "same.txt").write_text("1234")
    box = Sandbox(tmp_path, timeout_s=20)
    first = box.run_sync(
        "import os\nos.makedirs('d/e')\nopen('d/e/f.txt', 'w').write('deep')\n"
        "os.symlink('same.txt', 'link')\nos.remove('old.txt')\nos.chmod('same.txt', 0o600)\n"
        # Same size and mtime set back: the change is still seen (ctime cannot be set back).
        "st = os.stat('same.txt')\nopen('same.txt', 'w').write('abcd')\n"
        "os.utime('same.txt', ns=(st.st_atime_ns, st.st_mtime_ns))\n"
    )
    assert first.ok, first.stderr
    assert not (tmp_path / "old.txt").exists()
    assert (tmp_path / "d" / "e" / "f.txt").read_text() == "deep"
    assert os.readlink(tmp_path / "link") == "same.txt"
    assert (tmp_path / "same.txt").read_text() == "abcd"
    assert (tmp_path / "same.txt").stat().st_mode & 0o777 == 0o600
    second = box.run_sync("import shutil\nshutil.rmtree('d')\nprint(open('link').read())")
    assert second.stdout == "abcd\n" and not (tmp_path / "d").exists()


def test_copying_back_never_follows_a_symlink_out(dirs, available):
    """The code may leave symlinks pointing out (Landlock allows making them); copying
    back must replace them, never write through them."""
    require("pidns", available)
    work, outside = dirs
    box = make_box("all", available, work, audit_hook=False)  # the hook refuses such links
    first = run(
        box,
        f"""
        import os
        os.symlink({str(outside)!r}, "d")
        os.symlink({str(outside / "keep.txt")!r}, "f")
    """,
    )
    assert first.ok, first.stderr
    assert os.readlink(work / "d") == str(outside)
    second = run(
        box,
        """
        import os
        os.remove("d"); os.mkdir("d"); open("d/pwn.txt", "w").write("x")
        os.remove("f"); open("f", "w").write("pwned")
    """,
    )
    assert second.ok, second.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "precious"
    assert (work / "d").is_dir() and not (work / "d").is_symlink()
    assert (work / "d" / "pwn.txt").read_text() == "x"
    assert (work / "f").read_text() == "pwned" and not (work / "f").is_symlink()


def test_setuid_bits_are_not_copied_back(tmp_path, available):
    """A setuid file the code (as root) made would be a root shell for any local user."""
    require("pidns", available)
    box = make_box("all", available, tmp_path, audit_hook=False)  # the hook refuses the chmod
    result = run(box, "import os\nopen('x', 'w').write('#!/bin/sh')\nos.chmod('x', 0o6755)")
    assert result.ok, result.stderr
    assert (tmp_path / "x").stat().st_mode & 0o7777 == 0o755


def test_files_written_before_a_timeout_are_kept(tmp_path, available):
    require("pidns", available)
    box = Sandbox(tmp_path, timeout_s=1)
    result = box.run_sync("open('kept.txt', 'w').write('yes')\nwhile True: pass")
    assert result.limit == "time"
    assert (tmp_path / "kept.txt").read_text() == "yes"


def test_concurrent_runs_keep_each_others_files(tmp_path, available):
    require("pidns", available)
    (tmp_path / "shared.txt").write_text("shared")
    box = Sandbox(tmp_path, timeout_s=20)

    async def both():
        code = "import time\nopen('{0}.txt', 'w').write('{0}')\ntime.sleep(0.5)"
        return await asyncio.gather(box.run(code.format("a")), box.run(code.format("b")))

    assert all(r.ok for r in asyncio.run(both()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt", "shared.txt"]
