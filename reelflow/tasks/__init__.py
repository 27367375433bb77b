"""Thin Prefect tasks around the reel's steps: caching, retries, timeouts, progress."""
