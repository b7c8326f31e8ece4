"""Alembic environment: always run online, on the connection authkit hands over."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from authkit.store import models  # noqa: F401  (registers the tables)
from authkit.store.migrate import VERSION_TABLE

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `authkit db upgrade`, which opens the connection.")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    version_table=VERSION_TABLE,
    version_table_schema=config.attributes.get("schema"),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
