"""Alembic environment, driven only from `derrvos_core.store.migrate` (no alembic.ini).

The caller passes an open connection in `config.attributes["connection"]`, already inside the
transaction that should hold the whole upgrade.
"""
from alembic import context

from derrvos_core.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
