"""Work queues: where a waiting reel sits, and so the order in which reels start.

Reels wait in Prefect's own work queues, in the `Scheduled` state, until their pool has a free
slot (the pool's concurrency limit is MAX_PARALLEL_VIDEOS): a worker asks the server for
scheduled runs and the server returns at most as many as there are free slots, best queue
first (lowest priority number), oldest first within a queue. Nothing cycles while a run waits.

Each pool has `tiers` queues per plan, and a reel's tier is 1 + the number of reels its user
already has waiting or running when it is triggered (capped at `tiers`):

    premium-1 .. premium-T      priorities 1 .. T
    standard-1 .. standard-T    priorities T+1 .. 2T

So every premium reel starts before every standard one, and within a plan every user's first
reel starts before anyone's second (round robin by depth): a user who triggers fifty reels
cannot hold back another user's one. Tier 1 keeps the historical names `premium` and
`standard`. Pure names and numbers: no Prefect import (the API computes queue names per request).
"""

from __future__ import annotations

PLANS: tuple[str, ...] = ("premium", "standard")  # in the order they start
DEFAULT_TIERS = 10
MAX_TIERS = 50
PREFECT_DEFAULT_QUEUE = "default"  # every Prefect pool has it; reels never use it


def queue_name(plan: str, tier: int) -> str:
    """The queue of `plan`'s reels at depth `tier` (1 = the user's first waiting reel)."""
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r}")
    if tier < 1:
        raise ValueError(f"tier must be >= 1, not {tier}")
    return plan if tier == 1 else f"{plan}-{tier}"


def queue_for(plan: str, active: int, *, tiers: int) -> str:
    """The queue of a new reel of a `plan` user who has `active` reels waiting or running."""
    return queue_name(plan, min(max(active, 0) + 1, tiers))


def queue_priorities(tiers: int) -> dict[str, int]:
    """Every reel queue of a pool with its priority (1 starts first), for `tiers` tiers."""
    if not 1 <= tiers <= MAX_TIERS:
        raise ValueError(f"tiers must be 1..{MAX_TIERS}, not {tiers}")
    return {
        queue_name(plan, tier): rank * tiers + tier
        for rank, plan in enumerate(PLANS)
        for tier in range(1, tiers + 1)
    }


def parse_queue(name: str) -> tuple[str, int] | None:
    """(plan, tier) of a reel queue's name, or None for any other queue."""
    plan, _, tier = name.partition("-")
    if plan not in PLANS:
        return None
    if not tier:
        return plan, 1
    return (plan, int(tier)) if tier.isdigit() and int(tier) >= 2 else None
