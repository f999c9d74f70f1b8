"""The Alembic migrations build exactly the schema the models describe.

A column or index added to ``store/tables.py`` without a migration would work
in tests that create tables from the models and fail on a production database
that `helpdesk init` migrated; this compares the two on every backend.
"""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from gateway.store import db, search
from gateway.store.tables import Base


def _modelled(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    """The search index (FTS5 tables, the GIN expression index) has no model (issue 15)."""
    return not search.is_schema_object(name)


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    """`helpdesk init` (upgrade to head) leaves no difference from the models."""
    engine = db.make_engine(database_url)
    try:
        db.upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _modelled})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent(database_url: str) -> None:
    """Running `helpdesk init` again on a migrated database changes nothing and does not fail."""
    engine = db.make_engine(database_url)
    try:
        db.upgrade(engine)
        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()


def test_the_quick_revision_reading_agrees_with_alembic(database_url: str) -> None:
    """The check before every command reads head and current revision without Alembic's
    machinery (cheap pipe, issue 14): it must give Alembic's answers, before and after init."""
    from alembic.script import ScriptDirectory

    assert db.head_revision() == ScriptDirectory(str(db.MIGRATIONS)).get_current_head()
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() is None
        assert db.current_revision(engine) is None
        db.upgrade(engine)
        with engine.connect() as conn:
            expected = MigrationContext.configure(conn).get_current_revision()
        assert db.current_revision(engine) == expected == db.head_revision()
    finally:
        engine.dispose()
