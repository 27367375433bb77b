"""The API's knobs, read from `Settings` in one place (with the derived defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelflow.settings import LOOPBACK_HOSTS, Settings

CPU_REEL_DEPLOYMENT = "generate-reel/cpu"
GPU_REEL_DEPLOYMENT = "generate-reel/gpu"
BATCH_DEPLOYMENT = "generate-batch/batch"


def _list(value: Any, default: list[str]) -> list[str]:
    if value is None:
        return default
    if isinstance(value, str):  # "a,b" from an environment variable
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]


def gpu_present() -> bool:
    """Whether this host exposes an NVIDIA device (the GPU pool's workers run elsewhere, but
    a host without one is a strong hint that no GPU worker is set up either)."""
    return Path("/dev/nvidiactl").exists() or Path("/dev/nvidia0").exists()


@dataclass(frozen=True)
class ApiConfig:
    """Everything the API reads from settings, with its defaults."""

    reel_deployment: str
    batch_deployment: str
    rate_limit_reels: int
    rate_limit_window_s: int
    cors_origins: list[str]
    trusted_hosts: list[str]
    max_request_bytes: int
    max_json_bytes: int
    prefect_api_url: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiConfig:
        """Read the API's settings (proposed fields fall back to their defaults)."""
        reel = settings.api_reel_deployment
        if not reel:
            use_gpu = settings.enable_gpu_acceleration and gpu_present()
            reel = GPU_REEL_DEPLOYMENT if use_gpu else CPU_REEL_DEPLOYMENT
        max_request_mb = settings.api_max_request_mb
        if not max_request_mb:
            # a project may carry a voice, a music track and a background or two
            max_request_mb = settings.max_upload_mb * 4 + 1
        return cls(
            reel_deployment=reel,
            batch_deployment=settings.api_batch_deployment or BATCH_DEPLOYMENT,
            rate_limit_reels=settings.api_rate_limit_reels,
            rate_limit_window_s=settings.api_rate_limit_window_s,
            cors_origins=_list(settings.api_cors_origins, []),
            trusted_hosts=_list(settings.api_trusted_hosts, list(LOOPBACK_HOSTS)),
            max_request_bytes=int(max_request_mb * 2**20),
            max_json_bytes=settings.api_max_json_kb * 1024,
            prefect_api_url=settings.prefect_api_url,
        )
