"""Alembic environment of the hub's own database (tables of :mod:`vigil.store.hub` only)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from vigil.store.hub import HubBase

config = context.config
target_metadata = HubBase.metadata


def run() -> None:
    """Run migrations online against the engine handed over in ``config.attributes``."""
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            version_table="hub_alembic_version",
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.in_transaction():
            connection.commit()


run()
