"""A throwaway PostgreSQL server on 127.0.0.1 for the server-marked tests.

Uses the system's server binaries (Debian: ``bash scripts/system-deps.sh
postgresql``); nothing is downloaded. The cluster lives in a temporary folder,
runs with ``fsync=off`` (a crash of the *server* is not what these tests
check), and is stopped and deleted on exit.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["postgres_server"]

INSTALL_HINT = "run `bash scripts/system-deps.sh postgresql` (Debian's PostgreSQL server)"


def _bin_dir() -> Path:
    # Debian keeps the server binaries off PATH, one folder per major version.
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    pytest.fail(
        f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}", pytrace=False
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user() -> tuple[list[str], int | None]:
    """The command prefix and uid that run the server: PostgreSQL refuses to run as root."""
    if os.geteuid() != 0:
        return [], None
    try:
        uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        pytest.fail(
            f"running as root and there is no `postgres` OS user to run the server; {INSTALL_HINT}",
            pytrace=False,
        )
    return ["runuser", "-u", "postgres", "--"], uid


def _run(cmd: list[str], log: Path | None = None) -> None:
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, env={**os.environ, "LC_ALL": "C"}
    )
    if out.returncode != 0:
        tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
        pytest.fail(
            f"`{' '.join(cmd)}` failed ({out.returncode}):\n{out.stdout}{out.stderr}{tail}",
            pytrace=False,
        )


@contextlib.contextmanager
def postgres_server(dbname: str = "dramaturg") -> Iterator[str]:
    """Start a private PostgreSQL server and yield a URL to a fresh database on it.

    Example:
        >>> with postgres_server() as url:   # doctest: +SKIP
        ...     url
        'postgresql://postgres@127.0.0.1:54321/dramaturg?sslmode=disable'
    """
    bin_dir = _bin_dir()
    prefix, uid = _as_server_user()
    # Directly under /tmp, not pytest's tmp_path: that one is private to
    # root (mode 700), so the postgres user could not reach the data folder,
    # and a Unix socket path must stay under ~100 characters.
    root = Path(tempfile.mkdtemp(prefix="dramaturg-pg-"))
    data, sock, log = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    if uid is not None:
        for path in (root, sock):
            os.chown(path, uid, -1)
    port = _free_port()
    started = False
    try:
        _run(
            [
                *prefix,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        server_opts = (
            f"-h 127.0.0.1 -p {port} -k {sock} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off"
        )
        # -w: pg_ctl returns once the server accepts connections.
        _run(
            [
                *prefix,
                str(bin_dir / "pg_ctl"),
                "start",
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "30",
                "-o",
                server_opts,
            ],
            log,
        )
        started = True
        _run(
            [
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                dbname,
            ],
            log,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/{dbname}?sslmode=disable"
    finally:
        if started:
            subprocess.run(
                [
                    *prefix,
                    str(bin_dir / "pg_ctl"),
                    "stop",
                    "-D",
                    str(data),
                    "-m",
                    "immediate",
                    "-w",
                ],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
