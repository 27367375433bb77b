"""Queue names and priorities: premium before standard, every user's n-th reel before anyone's
(n+1)-th (reelflow/deployments/queues.py)."""

from __future__ import annotations

import pytest

from reelflow.deployments.queues import (
    PLANS,
    parse_queue,
    queue_for,
    queue_name,
    queue_priorities,
)


def test_priorities_put_every_premium_tier_before_every_standard_tier():
    priorities = queue_priorities(4)
    assert len(set(priorities.values())) == len(priorities) == 8  # Prefect wants them unique
    premium = [priorities[queue_name("premium", t)] for t in range(1, 5)]
    standard = [priorities[queue_name("standard", t)] for t in range(1, 5)]
    assert premium == sorted(premium) and standard == sorted(standard)
    assert max(premium) < min(standard)
    assert priorities["premium"] == 1 and priorities["standard"] == 5


def test_a_users_depth_picks_the_tier_and_the_last_tier_takes_the_rest():
    assert queue_for("standard", 0, tiers=3) == "standard"
    assert queue_for("standard", 1, tiers=3) == "standard-2"
    assert queue_for("premium", 2, tiers=3) == "premium-3"
    assert queue_for("premium", 40, tiers=3) == "premium-3"


@pytest.mark.parametrize("plan", PLANS)
def test_names_round_trip(plan):
    for tier in (1, 2, 17):
        assert parse_queue(queue_name(plan, tier)) == (plan, tier)
    assert parse_queue("default") is None and parse_queue(f"{plan}-1") is None


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        queue_name("gold", 1)
    with pytest.raises(ValueError):
        queue_name("premium", 0)
    with pytest.raises(ValueError):
        queue_priorities(0)
