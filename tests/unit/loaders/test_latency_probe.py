"""The latency probe waits for its own marker order, not for an older order of the same id.

After `TRUNCATE ... RESTART IDENTITY` on the source the order ids come again, while the
warehouse keeps the old orders' facts (soft-deleted). Found by CI: the Locust probe took such a
fact for its marker and reported a median latency of 0 s.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from app.bench import LatencyProbe, await_row, warehouse_target
from etl.errors import EtlError
from tests.unit.loaders.conftest import Applier
from tests.unit.loaders.records import customer, order, product

pytestmark = pytest.mark.unit


@pytest.fixture
def source(source_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE customers, products, orders, order_items RESTART IDENTITY CASCADE")
        yield conn


def test_an_order_id_used_again_after_a_truncate_is_not_the_marker(
    source: psycopg.Connection, wh: psycopg.Connection, apply: Applier
) -> None:
    # order 1 of before the TRUNCATE: loaded, then deleted by it (the warehouse keeps it)
    apply(customer(1, 1, op="c"), order(1, 2, cid=1, op="c"))
    apply(order(1, 3, cid=1, op="d"))
    apply(product(1, 4, op="c"))  # the probe's product, id 1 on the truncated source
    target = warehouse_target(wh)
    probe = LatencyProbe(source, target, timeout_s=5)

    marker = probe.commit_order()
    assert marker.order_id == 1  # the id comes again
    assert wh.execute("SELECT 1 FROM dw.fact_orders WHERE order_id = 1").fetchone()
    with pytest.raises(EtlError, match="did not reach pipeline"):
        await_row(target, target.order_query, vars(marker), 0.3, "the marker order")

    # the marker's own insert arrives: its LSN is at or after the one read before it
    apply(order(1, marker.lsn + 100, cid=1, op="c"))
    await_row(target, target.order_query, vars(marker), 5, "the marker order")
