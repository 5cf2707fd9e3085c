"""Schema migrations run from code: `upgrade(engine)` brings any older database to the newest schema."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from derrvos_core.store.engine import WRITE_OPTION

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = 0x64657276  # any fixed bigint: PostgreSQL advisory lock held while migrating


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Migrate the database to `revision` in one transaction (SQLite: under the write lock, so two
    processes starting at once do not both run it). Returns the revision reached."""
    config = _config()
    with engine.execution_options(**{WRITE_OPTION: True}).connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by rebuilding it; with foreign keys on, dropping the old table
            # would cascade into its children. Foreign keys can only be switched outside a
            # transaction, and are checked before commit instead.
            _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    # Two app processes starting at once: the second waits, then finds the schema current.
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration to {revision} broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")
    return current_revision(engine)


def _sqlite_pragma(connection: Connection, statement: str) -> None:
    """Run a pragma on the driver connection directly, outside any transaction."""
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute(statement)
    cursor.close()
