"""The project store: users, projects, uploads, word timings and tasks in one object."""

from __future__ import annotations

from reelflow.store.accounts import Accounts
from reelflow.store.projects import Projects


class Store(Projects, Accounts):
    """Persistent state of reelflow's API, on SQLite (default) or PostgreSQL.

    Build one per process from `Settings` (``Store(settings)``, or ``Store.from_url(url)``),
    typically in the API's lifespan, and `close` it at shutdown; tables are created on start.
    Methods run their own transaction and return plain, fully loaded objects; lookups take the
    caller's user id and treat other users' ids exactly like unknown ones.
    """
