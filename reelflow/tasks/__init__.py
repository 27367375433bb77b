"""The reel's steps, each written once (`step.py`), and how they run as Prefect tasks."""
