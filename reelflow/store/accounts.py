"""Users (with hashed API tokens) and the render tasks they started."""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from reelflow.engine.errors import InputError
from reelflow.store import tokens
from reelflow.store.db import Database
from reelflow.store.schema import (
    PLANS,
    Project,
    Task,
    User,
    UserWebhook,
    new_user_id,
    new_webhook_secret,
)


def _expiry(expires_in_s: float | None) -> datetime | None:
    if expires_in_s is None:
        return None
    if expires_in_s <= 0:
        raise InputError("must be positive", field="expires_in")
    return datetime.now(UTC) + timedelta(seconds=expires_in_s)


def clean_name(name: str) -> str:
    """A user name with whitespace collapsed; `InputError` if blank, too long or not text."""
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise InputError("must not be blank", field="name")
    if len(cleaned) > 100:
        raise InputError("must be at most 100 characters", field="name")
    if any(unicodedata.category(ch)[0] == "C" for ch in cleaned):
        raise InputError("must not contain control characters", field="name")
    return cleaned


class Accounts(Database):
    """User and task queries."""

    def create_user(
        self, name: str, *, plan: str = "standard", expires_in_s: float | None = None
    ) -> tuple[User, str]:
        """Create a user; return it with its API token, which is not stored and not shown again.

        `expires_in_s`: the token stops working that long from now (default: never).
        """
        if plan not in PLANS:
            raise InputError(f"{plan!r} is not one of {', '.join(PLANS)}", field="plan")
        minted = tokens.mint()
        user = User(
            id=new_user_id(),
            name=clean_name(name),
            plan=plan,
            token_id=minted.token_id,
            token_hash=minted.digest,
            token_expires_at=_expiry(expires_in_s),
        )
        with self.session() as session:
            session.add(user)
        return user, minted.token

    def rotate_token(self, user_id: str, *, expires_in_s: float | None = None) -> str | None:
        """Give `user_id` a new token (returned, shown once); the old one stops working now.

        None if there is no such user.
        """
        minted = tokens.mint()
        with self.session() as session:
            user = session.get(User, user_id)
            if user is None:
                return None
            user.token_id, user.token_hash = minted.token_id, minted.digest
            user.token_expires_at = _expiry(expires_in_s)
        return minted.token

    def revoke_token(self, user_id: str) -> bool:
        """Make `user_id`'s token stop working now (no new one); False if there is no user."""
        with self.session() as session:
            user = session.get(User, user_id)
            if user is None:
                return False
            # a token id no real token has (they are 16 hex digits) and a hash nothing matches
            user.token_id = f"revoked-{secrets.token_hex(8)}"
            user.token_hash = "-" * 64
            user.token_expires_at = None
        return True

    def authenticate(self, token: str | None) -> User | None:
        """The user holding `token`, or None for a missing, malformed, unknown or wrong token."""
        token_id = tokens.token_id_of(token)
        if token_id is None or token is None:
            return None
        with self.session() as session:
            user = session.scalar(select(User).where(User.token_id == token_id))
        if user is None or not tokens.matches(token, user.token_hash):
            return None
        expires = user.token_expires_at
        if expires is not None and datetime.now(UTC) >= expires:  # the column type gives UTC
            return None
        return user

    def get_user(self, user_id: str) -> User | None:
        """The user with id `user_id`, or None."""
        with self.session() as session:
            return session.get(User, user_id)

    def list_users(self) -> list[User]:
        """Every user, oldest first."""
        with self.session() as session:
            return list(session.scalars(select(User).order_by(User.created_at, User.id)))

    def webhook(self, user_id: str) -> UserWebhook:
        """The user's webhook settings, created (with a new secret) on first use."""
        with self.session() as session:
            found = session.get(UserWebhook, user_id)
            if found is not None:
                return found
        try:
            with self.session() as session:
                session.add(UserWebhook(user_id=user_id, secret=new_webhook_secret()))
        except IntegrityError:
            pass  # created meanwhile by another request (or the user does not exist)
        with self.session() as session:
            found = session.get(UserWebhook, user_id)
        if found is None:
            raise InputError("no such user", field="user_id")
        return found

    def set_webhook(
        self, user_id: str, *, url: str | None = None, rotate_secret: bool = False
    ) -> UserWebhook:
        """Set the user's default webhook URL (None removes it); optionally a new secret.

        `url` must already be checked (`reelflow.webhooks.check_webhook_url`)."""
        self.webhook(user_id)
        with self.session() as session:
            found = session.get(UserWebhook, user_id)
            found.url = url
            if rotate_secret:
                found.secret = new_webhook_secret()
        return self.webhook(user_id)

    def record_task(
        self,
        user_id: str,
        task_id: str,
        *,
        project_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        kind: str = "reel",
        parent_id: str | None = None,
    ) -> Task:
        """Remember that `user_id` started task `task_id` (a flow run id).

        Idempotent: recording the same id for the same user again returns the first record (a
        retried request with the same idempotency key gets the same flow run back). `project_id`
        must be the user's own project. `parameters` must be JSON-serialisable.
        """
        with self.session() as session:
            if project_id is not None and not _owns_project(session, user_id, project_id):
                raise InputError("no such project", field="project_id")
            existing = session.get(Task, task_id)
            if existing is not None:
                return _same_owner(existing, user_id)
        task = Task(
            id=task_id,
            user_id=user_id,
            project_id=project_id,
            parameters=dict(parameters or {}),
            kind=kind,
            parent_id=parent_id,
        )
        try:
            with self.session() as session:
                session.add(task)
        except IntegrityError:
            # Two requests raced to record the same run; the first one's row is the record.
            with self.session() as session:
                existing = session.get(Task, task_id)
            if existing is None:
                raise
            return _same_owner(existing, user_id)
        return task

    def intake_task(
        self,
        user_id: str,
        task_id: str,
        *,
        run_key: str,
        creation: Mapping[str, Any],
        project_id: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        kind: str = "reel",
    ) -> tuple[Task, bool]:
        """Record a task the API accepted, with the flow run still to create; or, when the user
        already has a task under `run_key`, that one. Returns the task and whether it is new.

        `creation` is what the API will create in Prefect (api/intake.py); it stays with the
        task until `mark_created`, so a task is created even if the process that accepted it
        dies. One user's key names one task, also when two requests race (a unique index).
        """
        task = Task(
            id=task_id,
            user_id=user_id,
            project_id=project_id,
            parameters=dict(parameters or {}),
            kind=kind,
            run_key=run_key,
            creation=dict(creation),
            pending=True,
        )
        try:
            with self.session() as session:
                if project_id is not None and not _owns_project(session, user_id, project_id):
                    raise InputError("no such project", field="project_id")
                existing = _keyed(session, user_id, run_key)
                if existing is not None:
                    return existing, False
                session.add(task)
        except IntegrityError:
            with self.session() as session:  # another request took the key first
                existing = _keyed(session, user_id, run_key)
            if existing is None:
                raise
            return existing, False
        return task, True

    def mark_created(self, created: Mapping[str, str]) -> None:
        """Tasks (id -> flow run id) whose flow runs now exist: nothing is left to create."""
        if not created:
            return
        with self.session() as session:
            for task in session.scalars(select(Task).where(Task.id.in_(list(created)))):
                task.flow_run_id = created[task.id]
                task.creation = None
                task.pending = False

    def drop_creation(self, task_id: str) -> None:
        """A task whose flow run will never be created (Prefect refused it for good)."""
        with self.session() as session:
            task = session.get(Task, task_id)
            if task is not None:
                task.creation = None
                task.pending = False

    def pending_tasks(self, *, accepted_before: datetime, limit: int = 500) -> list[Task]:
        """Tasks still waiting for their flow run, accepted before `accepted_before`, oldest
        first."""
        query = (
            select(Task)
            .where(Task.pending.is_(True), Task.created_at < accepted_before)
            .order_by(Task.created_at, Task.id)
            .limit(limit)
        )
        with self.session() as session:
            return list(session.scalars(query))

    def find_task(self, task_id: str) -> Task | None:
        """Task `task_id` whoever owns it (for callers that checked ownership already)."""
        with self.session() as session:
            return session.get(Task, task_id)

    def get_task(self, user_id: str, task_id: str) -> Task | None:
        """The user's task `task_id`; None for unknown ids and for other users' tasks alike."""
        with self.session() as session:
            return session.scalar(select(Task).where(Task.id == task_id, Task.user_id == user_id))

    def list_tasks(
        self,
        user_id: str,
        *,
        project_id: str | None = None,
        parent_id: str | None = None,
        limit: int = 100,
    ) -> list[Task]:
        """The user's tasks, newest first, optionally of one project or one batch."""
        query = select(Task).where(Task.user_id == user_id)
        if project_id is not None:
            query = query.where(Task.project_id == project_id)
        if parent_id is not None:
            query = query.where(Task.parent_id == parent_id)
        query = query.order_by(Task.created_at.desc(), Task.id).limit(max(1, min(limit, 1000)))
        with self.session() as session:
            return list(session.scalars(query))


def _keyed(session, user_id: str, run_key: str) -> Task | None:
    return session.scalar(select(Task).where(Task.user_id == user_id, Task.run_key == run_key))


def _owns_project(session, user_id: str, project_id: str) -> bool:
    query = select(Project.id).where(Project.id == project_id, Project.user_id == user_id)
    return session.scalar(query) is not None


def _same_owner(task: Task, user_id: str) -> Task:
    if task.user_id != user_id:
        # Flow run ids are random UUIDs; a clash across users means a forged or reused id.
        raise InputError("task id already belongs to another user", field="task_id")
    return task
