"""The pure media and alignment engine.

Nothing in this package imports Prefect, FastAPI or Redis: functions take arrays, paths and
frozen dataclasses and return the same, so every step can be tested and benchmarked directly.
"""
