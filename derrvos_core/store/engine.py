"""Database URL resolution and engine set-up (SQLite pragmas, immediate write transactions)."""
from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from derrvos_core.errors import InputError

DEFAULT_URL = "sqlite:///derrvos.db"
ENV_VAR = "DERRVOS_DB"
# How long a SQLite writer waits for another writer's lock before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option that makes a SQLite transaction take the write lock when it begins.
WRITE_OPTION = "derrvos_write"


def resolve_url(url: str | os.PathLike | None = None, use_env: bool = True) -> str:
    """The database URL: `url` if given, else `$DERRVOS_DB` (read now, not at import), else the default.

    A bare file path (no "://") is taken as a SQLite file.
    """
    if url is None and use_env:
        url = os.environ.get(ENV_VAR) or None
    if url is None:
        return DEFAULT_URL
    text = os.fspath(url)
    if not text.strip():
        raise InputError("database URL is empty")
    if "://" not in text:
        return "sqlite:///" + str(Path(text).expanduser().resolve())
    try:
        make_url(text).get_dialect()  # also fails for an unknown backend or a missing driver
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise InputError(f"not a database URL: {text!r} ({exc})") from exc
    return text


def redact(url: str) -> str:
    """The URL with any password hidden, for logs and export sidecars."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for `url`. SQLite gets WAL, foreign keys, a busy timeout and FULL sync on every
    connection, and write transactions that take the write lock at BEGIN (so two writers queue on
    the busy timeout instead of failing when one upgrades a read lock)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    _install_sqlite_events(engine, in_memory=parsed.database in (None, "", ":memory:"))
    return engine


def _install_sqlite_events(engine: Engine, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take over transaction control from the sqlite3 module so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # FULL: an acknowledged commit survives power loss too, not only a killed process.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
