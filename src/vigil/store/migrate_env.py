"""The body of every Alembic ``env.py`` of Vigil (the case store's and the hub's): online only,
against the engine handed over in ``config.attributes`` (Vigil never renders offline SQL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine


def run_online(metadata: MetaData, *, version_table: str = "alembic_version") -> None:
    """Run the migrations of the current Alembic context for the tables of ``metadata``."""
    config = context.config
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            version_table=version_table,
        )
        with context.begin_transaction():
            context.run_migrations()
        if connection.in_transaction():
            connection.commit()
