"""The production benchmark's pure parts: the town's residents and
conversations, the skew of its traffic, the figures per message and the
ratios to the tutorial peer."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from bench.meters import per_message
from bench.mint_sessions import town_plan
from bench.report import production_summary
from bench.town import skewed_index, town_pairs


def test_town_plan_gives_each_community_its_own_residents() -> None:
    """N communities of M residents, no resident in two communities."""
    plan = town_plan(slug="town", prefix="t", count=50, communities=100)
    assert len(plan) == 100
    assert all(len(members) == 50 for members in plan.values())
    names = [name for members in plan.values() for name in members]
    assert len(set(names)) == 5000
    assert plan["town-007"][3] == "t007-00003"


def test_one_community_keeps_the_historical_names() -> None:
    """One community: the slug as given and names `<prefix>00000`, ..."""
    assert town_plan(slug="bench", prefix="b", count=2) == {
        "bench": ["b00000", "b00001"]
    }


@pytest.mark.parametrize("fanout", [1, 3, 10])
def test_town_pairs_stay_inside_the_senders_community(fanout: int) -> None:
    """Each conversation: a sender and `fanout` other members of their
    own community; `senders` conversations per community, busy one first."""
    town = town_plan(slug="town", prefix="t", count=50, communities=20)
    home = {name: slug for slug, members in town.items() for name in members}
    pairs = town_pairs(town, fanout=fanout, senders=10, seed=8)
    assert len(pairs) == 200
    for sender, recipients in pairs:
        assert len(set(recipients)) == fanout
        assert sender not in recipients
        assert {home[name] for name in recipients} == {home[sender]}
    assert {home[sender] for sender, _ in pairs[:10]} == {"town-000"}


def test_town_pairs_are_the_same_for_the_same_seed() -> None:
    """The tutorial peer gets exactly the project's conversations."""
    town = town_plan(slug="town", prefix="t", count=50, communities=5)
    assert town_pairs(town, fanout=3, senders=10, seed=4) == town_pairs(
        town, fanout=3, senders=10, seed=4
    )


def test_busy_community_carries_a_fifth_of_the_sends() -> None:
    """With 100 communities of 10 conversations, community 0 gets about 20%
    of the picks and every other one about 0.8%."""
    rng = random.Random(1)
    picks = Counter(
        skewed_index(rng, hot=10, total=1000, share=0.2) // 10 for _ in range(200_000)
    )
    assert picks[0] / 200_000 == pytest.approx(0.2, abs=0.005)
    others = [picks[k] / 200_000 for k in range(1, 100)]
    assert min(others) > 0.006
    assert max(others) < 0.010


def test_a_single_community_takes_every_pick() -> None:
    """When the busy community is the whole town, every index is in it."""
    rng = random.Random(2)
    assert {skewed_index(rng, hot=5, total=5, share=0.2) for _ in range(200)} == set(
        range(5)
    )


def snapshot(**values: float) -> dict[str, float]:
    keys = [
        "daphne_cpu_s",
        "postgres_cpu_s",
        "redis_cpu_s",
        "loadgen_cpu_s",
        "time_s",
        "pg_xact_commit",
        "pg_xact_rollback",
        "pg_tup_inserted",
        "pg_tup_fetched",
        "redis_commands",
    ]
    return {key: values.get(key, 0.0) for key in keys}


def test_per_message_divides_each_delta_by_the_messages() -> None:
    """CPU seconds become milliseconds per message; counters per message."""
    before = snapshot(daphne_cpu_s=10.0, pg_xact_commit=100, redis_commands=7)
    after = snapshot(
        daphne_cpu_s=12.0, pg_xact_commit=600, redis_commands=2007, time_s=5
    )
    figures = per_message(before, after, messages=200)
    assert figures["cpu_ms_per_message"]["daphne"] == 10.0
    assert figures["cpu_ms_per_message"]["redis"] == 0.0
    assert figures["pg_transactions_per_message"] == 2.5
    assert figures["redis_commands_per_message"] == 10.0
    assert figures["seconds"] == 5


def test_per_message_without_messages_is_unknown() -> None:
    """No acked message: no figure rather than a division by zero."""
    figures = per_message(snapshot(), snapshot(), messages=0)
    assert figures["cpu_ms_per_message"]["daphne"] is None
    assert figures["redis_commands_per_message"] is None


def system(**rates: float) -> dict[str, Any]:
    """A system's section with max rates keyed `<scenario>_<fanout>`."""
    result: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for key, rate in rates.items():
        scenario, fanout = key.rsplit("_", 1)
        result.setdefault(scenario, {"fanouts": {}})["fanouts"][fanout] = {
            "max_rate": rate
        }
    return result


def test_production_summary_ratios_and_targets() -> None:
    """Ratios to the tutorial peer per scenario; the targets say whether
    2 processes reach 4x and fan-out 10 holds 100 msg/s."""
    section = {
        "systems": {
            "project_x2": system(town_1=400, town_10=120, one_community_1=300),
            "project_x4": system(town_1=600, town_10=90, one_community_1=450),
            "tutorial_x2": system(town_1=100, town_10=50, one_community_1=150),
        }
    }
    ratios, targets = production_summary(section, relay_rate=4000)
    assert ratios["town_fanout1"]["project_x2_vs_tutorial"] == 4.0
    assert ratios["town_fanout1"]["project_x4_vs_tutorial"] == 6.0
    assert ratios["town_fanout1"]["project_x2_vs_relay"] == 0.1
    assert ratios["one_community"]["project_x2_vs_tutorial"] == 2.0
    assert [t["met"] for t in targets] == [True, False, True]
