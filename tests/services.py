"""Tests that need a real service (Redis, PostgreSQL, Chromium) and what to do without it."""

from __future__ import annotations

import os

import pytest


def under_ci() -> bool:
    """Whether this is a CI run (``CI=true``, as CI systems and `.ci/run` set it)."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_service(message: str) -> None:
    """Skip a test whose service is missing, loudly; under CI fail instead.

    CI that goes green while a suite silently skips is lying: there, a missing Redis,
    PostgreSQL or Chromium is a failure of the run, not a reason to test less.
    """
    if under_ci():
        pytest.fail(f"{message} (CI=true: a missing service fails the run)", pytrace=False)
    pytest.skip(message)
