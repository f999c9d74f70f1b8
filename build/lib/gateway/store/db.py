"""Engine, sessions and schema migrations.

SQLite is the embedded default: WAL so readers (the CLI) never block the
writer, ``synchronous=FULL`` so a 250 survives a power cut, ``BEGIN IMMEDIATE``
so two processes (``serve`` and ``helpdesk ingest``) queue for the write lock
instead of failing on a lock upgrade. Any other SQLAlchemy URL works; the
tests also run on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreUnavailable(Exception):
    """The database cannot be reached or written; the sender should retry."""


class NotMigrated(Exception):
    """The schema is missing or behind the code; ``helpdesk init`` fixes it."""


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 5) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_pragmas(engine, sqlite_synchronous.upper())
        return engine
    kwargs: dict[str, Any] = {"pool_size": pool_size, "pool_pre_ping": True}
    return create_engine(url, **kwargs)


def _sqlite_pragmas(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin, so that
        # SAVEPOINT (one per mail in a group commit) works as documented.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # 64 MB of page cache instead of SQLite's 2 MB: intake's lookups (thread ids,
        # idempotency keys, addresses) are random reads in indexes that outgrow 2 MB
        # after some 30,000 mails, and each miss is a read from the OS.
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision (``helpdesk init``)."""
    command.upgrade(_alembic_config(engine), "head")


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def require_migrated(engine: Engine) -> None:
    """Refuse to run on a database the code does not match."""
    current = current_revision(engine)
    head = head_revision()
    if current is None:
        raise NotMigrated(
            f"the database at {engine.url.render_as_string(hide_password=True)} "
            "has no helpdesk schema: run `helpdesk init` first"
        )
    if current != head:
        raise NotMigrated(
            f"the database schema is at revision {current}, the code needs {head}: "
            "run `helpdesk init` to migrate it"
        )


def require_database(engine: Engine) -> None:
    """The database is reachable and migrated, or a sentence that says what to do."""
    try:
        require_migrated(engine)
    except SQLAlchemyError as exc:
        raise StoreUnavailable(
            f"cannot open the database {engine.url.render_as_string(hide_password=True)}:"
            f" {exc.__class__.__name__}; check HELPDESK_DATABASE_URL"
        ) from None
