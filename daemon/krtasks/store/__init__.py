"""Durable task storage: the :class:`~krtasks.store.base.TaskStore` interface and its SQLite implementation."""

from .base import StoredRecord, StoredTask, StoreError, TaskStore
from .sqlite import MIGRATIONS, SCHEMA_VERSION, STORE_FILE, SqliteTaskStore, migrate, move_aside, open_store

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "STORE_FILE",
    "SqliteTaskStore",
    "StoreError",
    "StoredRecord",
    "StoredTask",
    "TaskStore",
    "migrate",
    "move_aside",
    "open_store",
]
