"""Engine, sessions and schema migrations.

SQLite is the embedded default: WAL so a reader that begins deferred
(:func:`reading`) never blocks the writer, ``synchronous=FULL`` so a 250
survives a power cut, ``BEGIN IMMEDIATE`` for every other transaction so two
processes (``serve`` and ``helpdesk ingest``) queue for the write lock instead
of failing on a lock upgrade. Any other SQLAlchemy URL works; the tests also
run on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class StoreUnavailable(Exception):
    """The database cannot be reached or written; the sender should retry."""


class NotMigrated(Exception):
    """The schema is missing or behind the code; ``helpdesk init`` fixes it."""


# SQLite's page cache per connection, MiB. The intake writer's lookups (thread ids,
# idempotency keys, addresses) are random reads in indexes that outgrow SQLite's 2 MB after
# some 30,000 mails, so its one connection gets 64 MiB. Every other connection (dispatcher,
# scheduler, page) gets 8: at 64 each, serve's resident memory followed the database's size
# up to 64 MiB times its pooled connections (390 MB after 40,000 mails; issue 14, item 7).
WRITER_CACHE_MB = 64
CACHE_MB = 8


def make_engine(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    pool_size: int = 5,
    cache_mb: int = CACHE_MB,
    checkpoints: bool = True,
) -> Engine:
    """``checkpoints=False``: this engine's commits never copy SQLite's WAL back into the
    database file; someone else must (``store.checkpoint``, run by serve)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _sqlite_pragmas(engine, sqlite_synchronous.upper(), cache_mb, checkpoints)
        return engine
    kwargs: dict[str, Any] = {"pool_size": pool_size, "pool_pre_ping": True}
    return create_engine(url, **kwargs)


def _sqlite_pragmas(engine: Engine, synchronous: str, cache_mb: int, checkpoints: bool) -> None:
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
        cur.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")  # see WRITER_CACHE_MB
        if not checkpoints:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A reader (see :func:`reading`) takes a snapshot and no lock: in WAL it never
        # waits for the writer, and the writer never waits for it.
        conn.exec_driver_sql(
            "BEGIN" if conn.get_execution_options().get(READING) else "BEGIN IMMEDIATE"
        )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


READING = "helpdesk_reading"


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that only reads. On SQLite every other transaction takes the write
    lock when it begins (``BEGIN IMMEDIATE``), so a read that holds it makes every mail
    waiting for its 250 wait too; this one begins deferred and takes no lock at all."""
    with factory() as session, session.begin():
        session.connection(execution_options={READING: True})
        yield session


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision (``helpdesk init``)."""
    from alembic import command

    path = _sqlite_file(engine)
    if path is not None:  # only init makes the directory: other commands create nothing
        path.parent.mkdir(parents=True, exist_ok=True)

    command.upgrade(_alembic_config(engine), "head")


# The check before every command reads the revisions without importing Alembic (a tenth
# of a second of CPU, paid by each `helpdesk ingest` an MTA starts: issue 14, item 15).
_REVISION = re.compile(r"^revision(?::[^=]*)?\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?::[^=]*)?\s*=\s*(.+)$", re.MULTILINE)


@cache
def head_revision() -> str | None:
    """The newest migration: the revision no other one revises (Alembic's answer when the
    files are not a plain chain)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found, down = _REVISION.search(source), _DOWN.search(source)
        if found is None or down is None:
            break
        revisions.add(found.group(1))
        revised.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    else:
        heads = revisions - revised
        if len(heads) == 1:
            return heads.pop()
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The schema's revision as Alembic records it, None when there is no schema."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if len(rows) <= 1:
            return rows[0] if rows else None
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(conn).get_current_revision()  # raises: many heads


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


def _sqlite_file(engine: Engine) -> Path | None:
    """The SQLite database's file, None for a server database or one in memory."""
    if engine.url.get_backend_name() != "sqlite":
        return None
    name = engine.url.database
    return Path(name) if name and name != ":memory:" else None


def require_database(engine: Engine) -> None:
    """The database is reachable and migrated, or a sentence that says what to do.

    A SQLite file that is not there is not created by looking (connecting would make an
    empty one, and a directory for it, wherever the command ran: issue 14, item 18).
    """
    where = engine.url.render_as_string(hide_password=True)
    path = _sqlite_file(engine)
    if path is not None and not path.exists():
        raise NotMigrated(
            f"there is no database at {path}: run `helpdesk init` first, or point "
            "HELPDESK_DATA_DIR (or --config) at the gateway's data directory"
        )
    try:
        require_migrated(engine)
    except SQLAlchemyError as exc:
        raise StoreUnavailable(f"cannot open the database {where}: {why(exc)}") from None


_MISSING_DB = re.compile(r'database "([^"]+)" does not exist')
_MISSING_ROLE = re.compile(r'role "([^"]+)" does not exist')


def why(exc: SQLAlchemyError) -> str:
    """What a failed connection means, and what to do about it (issue 14, item 18)."""
    text = str(getattr(exc, "orig", None) or exc)
    if found := _MISSING_DB.search(text):
        return (
            f'the server has no database "{found.group(1)}": create it '
            f"(createdb -O OWNER {found.group(1)}) or fix the name in HELPDESK_DATABASE_URL"
        )
    if found := _MISSING_ROLE.search(text):
        return f'the server has no user "{found.group(1)}": create it or fix HELPDESK_DATABASE_URL'
    if "password authentication failed" in text or "no password supplied" in text:
        return "the server refused the user or password in HELPDESK_DATABASE_URL"
    if "Connection refused" in text or "could not connect" in text.lower():
        return (
            "nothing answers at that host and port: start the server or fix HELPDESK_DATABASE_URL"
        )
    if "unable to open database file" in text:
        return "the SQLite file cannot be opened: check the path and its directory's permissions"
    return f"{exc.__class__.__name__}; check HELPDESK_DATABASE_URL and that the server runs"
