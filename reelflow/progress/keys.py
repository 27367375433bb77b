"""Redis key and channel names of the progress system, all under `settings.redis_key_prefix`.

    {p}:progress:{user_id}      pub/sub channel: every event of the user's runs, as JSON
    {p}:task:{task_id}          hash: the latest state of a run (+ created_at, updated_at, last_seq)
    {p}:events:{task_id}        stream: the run's history for replay (field "event" = JSON)
    {p}:seen:{task_id}          sorted set: event ids already stored (score = seq), for idempotency
    {p}:user:{user_id}:tasks    sorted set: the user's task ids, scored by last update (epoch s)
    {p}:webhooks                stream: runs' endings waiting for webhook delivery (the outbox)

The emit script (`script.py`) builds the two per-user names and the outbox's itself (an event may
arrive without a user id; it then takes the user from the status hash), so the formats below are
mirrored there.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelflow.settings import Settings


@dataclass(frozen=True, slots=True)
class ProgressKeys:
    """Names of every Redis key the progress system reads or writes."""

    prefix: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ProgressKeys:
        """Keys under `settings.redis_key_prefix`."""
        return cls(settings.redis_key_prefix)

    def channel(self, user_id: str) -> str:
        """Pub/sub channel carrying every event of one user's runs."""
        return f"{self.prefix}:progress:{user_id}"

    def status(self, task_id: str) -> str:
        """Hash holding the latest state of one run."""
        return f"{self.prefix}:task:{task_id}"

    def events(self, task_id: str) -> str:
        """Stream holding one run's event history."""
        return f"{self.prefix}:events:{task_id}"

    def seen(self, task_id: str) -> str:
        """Sorted set of the event ids already stored for one run."""
        return f"{self.prefix}:seen:{task_id}"

    def forgotten(self, task_id: str) -> str:
        """Marker of a run whose history was deleted (its project went): later events of it
        are dropped, so a late writer (relay, hook, spool) cannot bring its keys back."""
        return f"{self.prefix}:forgotten:{task_id}"

    def user_tasks(self, user_id: str) -> str:
        """Sorted set of one user's task ids, scored by last update time."""
        return f"{self.prefix}:user:{user_id}:tasks"

    def webhooks(self) -> str:
        """Stream of run endings whose webhooks are still to be delivered (the outbox)."""
        return f"{self.prefix}:webhooks"
