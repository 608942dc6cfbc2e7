"""Helpers shared by the sandbox tests: one layer on its own, all of them, or none.

Escape attempts run once per isolation layer with the others turned off, so
each layer is proven to hold by itself, and once with all layers; a control
with every layer off shows the attempt works, so the check can fail. A layer
the machine here does not offer is skipped, with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dramaturg.tools import Sandbox, SandboxRun

OPTIONS = {  # layer name in SandboxRun.layers -> the Sandbox option that turns it off
    "audit_hook": "audit_hook",
    "landlock": "landlock",
    "netns": "network_namespace",
    "pidns": "pid_namespace",
    "seccomp": "seccomp",
    "capabilities": "capabilities",
}
NONE = dict.fromkeys(OPTIONS.values(), False)
ROOT = Path(__file__).resolve().parents[2]


def only(layer: str) -> dict[str, bool]:
    """Sandbox options with just ``layer`` on (``"all"``: every layer; ``"none"``: none)."""
    if layer == "all":
        return {}
    if layer == "none":
        return dict(NONE)
    return {**NONE, OPTIONS[layer]: True}


def require(layer: str, available: dict) -> None:
    if layer in ("all", "none", "audit_hook") or available.get(layer):  # the hook: anywhere
        return
    reason = available.get("skipped", {}).get(layer, "not offered by this kernel")
    pytest.skip(f"the {layer} layer is not available here: {reason}")


def capabilities() -> int:
    """This process's effective capabilities, as a bit mask."""
    with open("/proc/self/status") as f:
        caps = dict(line.split(":\t") for line in f if line.startswith("Cap"))
    return int(caps["CapEff"], 16)


def make_box(layer: str, available: dict, workdir: Path, **options) -> Sandbox:
    require(layer, available)
    return Sandbox(workdir, **{"timeout_s": 20, **only(layer), **options})


def run(box: Sandbox, code: str) -> SandboxRun:
    return box.run_sync(textwrap.dedent(code))


_ELSEWHERE = """
import json, os, sys
options, code, drop = json.loads(sys.argv[1])
if drop:  # like a container without privileges: still uid 0, no capabilities
    from dramaturg.tools import _confine
    assert _confine.drop_capabilities()
secret = os.environ.get("DRAMATURG_TEST_SECRET")
if secret:
    os.environ["DRAMATURG_TEST_SECRET_COPY"] = secret  # in this process's heap as well
from dramaturg.tools import Sandbox
box = Sandbox(**options)
run = box.run_sync(code.replace("HOST_PPID", str(os.getpid())))
print(json.dumps({"stdout": run.stdout, "stderr": run.stderr, "exit_code": run.exit_code,
                  "limit": run.limit, "layers": run.layers}))
"""


def run_elsewhere(options: dict, code: str, *, env: dict | None = None,
                  drop_capabilities: bool = False) -> dict:  # fmt: skip
    """Run a sandbox from a fresh Python process (its environment set at exec) and report."""
    done = subprocess.run(
        [sys.executable, "-c", _ELSEWHERE,
         json.dumps([options, textwrap.dedent(code), drop_capabilities])],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


NOBODY = 65534


def nobodys_python() -> list[str]:
    """A command running this Python's version, with dramaturg importable, as uid 65534.

    This interpreter may sit under /root (mode 0700); a system one of the same
    version, given this environment's packages, does as well. Skips if none can.
    """
    check = "import sys, dramaturg.tools; print(sys.version_info[:2])"
    for python in dict.fromkeys([sys.executable, "/usr/bin/python3", "/usr/local/bin/python3"]):
        try:
            done = subprocess.run(
                [python, "-c", check], capture_output=True, text=True, timeout=60, cwd="/",
                user=NOBODY, group=NOBODY, extra_groups=[],
                env={"PYTHONPATH": _importable(), "PATH": "/usr/bin:/bin"},
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0 and done.stdout.strip() == str(tuple(sys.version_info[:2])):
            return [python]
    pytest.skip("no Python of this version that uid 65534 can run (and import dramaturg with)")


def _importable() -> str:
    return os.pathsep.join([str(ROOT), *(p for p in sys.path if p.endswith("site-packages"))])


def run_as_nobody(options: dict, code: str, home: Path, *, env: dict | None = None) -> dict:
    """Like :func:`run_elsewhere`, as an unprivileged user (the folders must be theirs)."""
    python = nobodys_python()
    done = subprocess.run(
        [*python, "-c", _ELSEWHERE, json.dumps([options, textwrap.dedent(code), False])],
        capture_output=True, text=True, timeout=120, cwd="/", user=NOBODY, group=NOBODY,
        extra_groups=[],
        env={"PYTHONPATH": _importable(), "PATH": "/usr/bin:/bin", "HOME": str(home),
             "DRAMATURG_HOME": str(home), "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env or {})},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])
