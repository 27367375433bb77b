"""Building the API app for tests."""

from __future__ import annotations

from reelflow.api.app import create_app
from reelflow.api.config import ApiConfig
from reelflow.settings import Settings


def app_without_prefect(settings: Settings, config: ApiConfig):
    """The app with no Prefect API, even when another suite's Prefect test server is active.

    `create_app` falls back to the ambient ``PREFECT_API_URL``; the session's test harness sets
    it, so without this a suite would reach that server (and start runs on it).
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        return create_app(settings, config=config)
