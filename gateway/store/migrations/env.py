"""Alembic environment: the engine is handed in by ``store.db``, never read from a file."""

from __future__ import annotations

from alembic import context

from gateway.store.search import is_schema_object
from gateway.store.tables import Base


def _modelled(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    """Autogenerate leaves the search index (issue 15) alone: no model describes it."""
    return not is_schema_object(name)


engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        include_object=_modelled,
    )
    context.run_migrations()
