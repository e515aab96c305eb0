"""`etl bench idle --threads`: how threads are grouped and ranked (pure functions; the e2e suite
measures a real stack with it)."""

import pytest

from app.idle import busiest_threads, thread_group

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("C2 CompilerThread1", "C2 CompilerThread"),
        ("GC Thread#3", "GC Thread"),
        ("pool-3-thread-12", "pool-3-thread"),
        ("worker-1-2", "worker"),
        ("kafka-1-raft-io", "kafka-1-raft-io"),
        ("Executor task l", "Executor task l"),
        ("42", "?"),
    ],
)
def test_threads_group_by_name_without_their_numbering(name, group):
    assert thread_group(name) == group


def test_busiest_groups_rank_by_cpu_in_the_window_and_count_their_threads():
    before = {1: ("GC Thread", 10.0), 2: ("GC Thread", 5.0), 3: ("main", 100.0)}
    after = {
        1: ("GC Thread", 10.5),
        2: ("GC Thread", 5.5),
        3: ("main", 100.2),
        4: ("worker", 0.3),  # started in the window: counts from its start
    }
    ranked = busiest_threads(before, after, elapsed=10.0, count=2)
    assert [(t.name, t.cpu_pct_of_core, t.threads) for t in ranked] == [
        ("GC Thread", 10.0, 2),
        ("worker", 3.0, 1),
    ]
