"""The capacity model's arithmetic (bench/capacity.py, docs/capacity.md)."""

from __future__ import annotations

from bench.capacity import Measured, replace_section, size

MEASURED = Measured(
    daphne_cpu_ms=6.0,
    postgres_cpu_ms=1.5,
    redis_cpu_ms=0.2,
    transactions_per_message=2.0,
    redis_commands_per_message=10.0,
    rate_per_two_processes=120.0,
    kib_per_socket=40.0,
    idle_cpu_percent_per_1000_sockets=0.7,
    source="a.json, b.json",
)


def test_sockets_set_the_number_of_processes_and_a_pooler_comes_with_many() -> None:
    town = size(10_000, MEASURED)
    region = size(1_000_000, MEASURED)
    # 30 % online, 1.3 sockets each; 5,000 sockets a process; at least two.
    assert town["sockets"] == 3_900
    assert town["daphne_processes"] == 2
    assert region["sockets"] == 390_000
    assert region["daphne_processes"] == 78
    assert not town["pooler"]
    assert region["pooler"]
    # 3 messages a day, 15 % in the peak hour, 3x in its busiest minute.
    assert region["peak_messages_per_second"] == 375.0
    assert region["postgres_transactions_per_second"] == 750
    # Half the measured capacity: 375 msg/s x 1.5 ms / 0.5.
    assert region["postgres_cores"] == 1.12


def test_generated_sections_replace_only_their_own_text() -> None:
    text = "a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n"
    assert replace_section(text, "x", "new") == (
        "a\n<!-- x:start -->\n\nnew\n\n<!-- x:end -->\nb\n"
    )
