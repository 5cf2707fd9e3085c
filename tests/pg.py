"""A throwaway PostgreSQL server for tests, from Debian's `postgresql` binaries.

`postgres_server()` initdb's a cluster in a fresh temporary folder, starts it on a free localhost
port (its unix socket in the same folder), yields a `PostgresServer`, and stops and removes it.
As root, the server runs as the `postgres` user (or `nobody`): PostgreSQL refuses to run as root.
`pg_binaries()` is None when the binaries are absent: the only reason the PostgreSQL tests skip.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

SUPERUSER = "derrvos"
SKIP_REASON = ("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb and pg_ctl); "
               "install Debian's `postgresql` package (scripts/bootstrap.sh --test does) to run these tests")


def pg_binaries() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, or None."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [d for d in found if (d / "pg_ctl").exists() and (d / "postgres").exists()]
    if not found:
        return None
    return max(found, key=lambda d: [int(x) if x.isdigit() else 0 for x in d.parent.name.split(".")])


@dataclass(frozen=True)
class PostgresServer:
    """A running server. `url(db)` is a SQLAlchemy URL for database `db` over TCP."""

    port: int
    data_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_as() -> str | None:
    """The user to run the server as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a `postgres` nor a `nobody` user exists "
                       "to run PostgreSQL as")


def _command(user: str | None, args: list[str]) -> list[str]:
    return args if user is None else ["runuser", "-u", user, "--"] + args


def _start(bin_dir: Path, user: str | None, root: Path, attempts: int = 3) -> int:
    """Start the server on a free port (another process may take the port first: try again)."""
    data_dir, log = root / "data", root / "server.log"
    for _ in range(attempts):
        port = _free_port()
        options = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c synchronous_commit=off -c full_page_writes=off")
        started = subprocess.run(_command(user, [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log),
                                                 "-o", options, "-w", "-t", "60", "start"]),
                                 capture_output=True, text=True, timeout=90)
        if started.returncode == 0:
            return port
    raise RuntimeError(f"pg_ctl start failed: {started.stderr or started.stdout}\n"
                       f"{log.read_text() if log.exists() else ''}")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = pg_binaries()
    if bin_dir is None:
        raise RuntimeError(SKIP_REASON)
    user = _run_as()
    root = Path(tempfile.mkdtemp(prefix="derrvos-pg-"))
    data_dir = root / "data"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    try:
        subprocess.run(_command(user, [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", SUPERUSER,
                                       "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]),
                       check=True, capture_output=True, text=True, timeout=120)
        port = _start(bin_dir, user, root)
        try:
            yield PostgresServer(port=port, data_dir=data_dir)
        finally:
            subprocess.run(_command(user, [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate",
                                           "-w", "stop"]), capture_output=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A server for the test module that imports this fixture; skips only without the binaries."""
    if pg_binaries() is None:
        pytest.skip(SKIP_REASON)
    with postgres_server() as server:
        yield server
