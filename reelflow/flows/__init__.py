"""Prefect flows: `generate-reel` (one reel) and `generate-batch` (many, in parallel)."""
