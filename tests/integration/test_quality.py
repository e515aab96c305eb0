"""The quality suites against a real warehouse: clean data passes, each kind of corruption
written straight into the warehouse fails its expectation, `etl quality` exits non-zero, and
the Data Docs name the failed expectation and open in headless Chromium with no request
leaving the machine.

The warehouse is the throwaway cluster's, loaded from a seeded source (tests/fixtures/quality.py);
Kafka (for the DLQ suite) is the session stack's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Producer
from fastapi.testclient import TestClient

from app.dashboard import create_app
from etl.quality_results import QualityRun, last_run
from etl.settings import Settings, settings_environment
from etl.topics import ensure_topics
from quality.runner import run_quality
from quality.suites import SUITE_NAMES
from tests.fixtures.quality import ARTIFACTS, REPO

pytestmark = pytest.mark.integration
CHROMIUM = Path("/usr/bin/chromium")


def etl_quality(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`etl quality --json ...` as a user runs it, on `settings` (plus `env` overrides)."""
    return subprocess.run(
        [sys.executable, "-m", "app", "quality", "--json", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
        env={**os.environ, **settings_environment(settings), **env},
    )


def validation_page(settings: Settings, suite: str) -> Path:
    (page,) = (settings.data_docs_dir / "validations" / suite).rglob("*.html")
    return page


def test_clean_seeded_warehouse_passes_every_suite(
    quality_settings: Settings, clean_warehouse: psycopg.Connection
) -> None:
    run = run_quality(quality_settings)
    assert [s.suite for s in run.suites] == list(SUITE_NAMES)
    failures = {s.suite: (s.error, s.failed_expectations) for s in run.suites if not s.success}
    assert not failures
    assert run.passed and all(s.expectations > 0 for s in run.suites)
    recorded = last_run(quality_settings.warehouse_dsn())
    assert recorded is not None and recorded.run_id == run.run_id and recorded.passed
    assert (quality_settings.data_docs_dir / "index.html").exists()


@dataclass(frozen=True)
class Corruption:
    name: str
    suite: str
    corrupt: str  # SQL run on the warehouse
    expectation: str  # GX's name of the expectation that must fail
    column: str | None = None  # or, for UnexpectedRowsExpectation, words of its description
    words: str | None = None
    restore: str = ""  # SQL undoing what a reload of the data does not (constraints)
    source_sql: str = ""  # SQL run on the source (freshness: the source keeps being written)


CORRUPTIONS = [
    Corruption(
        "duplicate key",
        "fact_orders",
        "ALTER TABLE dw.fact_orders DROP CONSTRAINT fact_orders_pkey;"
        " INSERT INTO dw.fact_orders SELECT * FROM dw.fact_orders ORDER BY order_id LIMIT 1",
        "expect_column_values_to_be_unique",
        column="order_id",
        restore="DELETE FROM dw.fact_orders f USING dw.fact_orders g"
        " WHERE f.order_id = g.order_id AND f.ctid > g.ctid;"
        " ALTER TABLE dw.fact_orders ADD CONSTRAINT fact_orders_pkey PRIMARY KEY (order_id)",
    ),
    Corruption(
        "negative amount",
        "fact_orders",
        "UPDATE dw.fact_orders SET total_amount = -1"
        " WHERE order_id = (SELECT min(order_id) FROM dw.fact_orders)",
        "expect_column_values_to_be_between",
        column="total_amount",
    ),
    Corruption(
        "two current rows for one customer",
        "dim_customer",
        "DROP INDEX dw.dim_customer_current_uq;"
        " INSERT INTO dw.dim_customer (customer_id, email, full_name, country, created_at,"
        " updated_at, valid_from, version, version_from, source_committed_at)"
        " SELECT customer_id, email, full_name, country, created_at, updated_at,"
        " valid_from + interval '1 second', version + 1, version + 1, source_committed_at"
        " FROM dw.dim_customer WHERE customer_id = (SELECT min(customer_id) FROM dw.dim_customer)",
        "unexpected_rows_expectation",
        words="Exactly one current row per customer_id",
        restore="DELETE FROM dw.dim_customer d USING dw.dim_customer e"
        " WHERE d.customer_id = e.customer_id AND d.is_current AND e.is_current"
        " AND d.customer_sk > e.customer_sk;"
        " CREATE UNIQUE INDEX dim_customer_current_uq ON dw.dim_customer (customer_id)"
        " WHERE is_current",
    ),
    Corruption(
        "aggregate disagreeing with its facts",
        "agg_daily_sales",
        "UPDATE dw.agg_daily_sales SET revenue = revenue + 1"
        " WHERE date_key = (SELECT min(date_key) FROM dw.agg_daily_sales)",
        "unexpected_rows_expectation",
        words="Every summary row equals a recompute from the facts",
    ),
    Corruption(
        "Debezium placeholder value",
        "dim_product",
        "UPDATE dw.dim_product SET name = '__debezium_unavailable_value'"
        " WHERE product_sk = (SELECT min(product_sk) FROM dw.dim_product)",
        "expect_column_values_to_not_be_in_set",
        column="name",
    ),
    Corruption(
        "stale data",
        "freshness",
        "; ".join(
            f"UPDATE dw.{t} SET source_committed_at = source_committed_at - interval '2 hours'"
            for t in ("fact_orders", "fact_order_items", "dim_customer", "dim_product")
        ),
        "expect_column_values_to_be_between",
        column="lag_s",
        source_sql="UPDATE customers SET updated_at = now()"
        " WHERE customer_id = (SELECT min(customer_id) FROM customers)",
    ),
]


@pytest.fixture
def corrupted(
    request: pytest.FixtureRequest,
    quality_settings: Settings,
    seeded_source: str,
    clean_warehouse: psycopg.Connection,
) -> Iterator[Corruption]:
    corruption: Corruption = request.param
    try:
        clean_warehouse.execute(corruption.corrupt)
        if corruption.source_sql:
            with psycopg.connect(seeded_source, autocommit=True) as source:
                source.execute(corruption.source_sql)
        yield corruption
    finally:
        if corruption.restore:
            clean_warehouse.execute(corruption.restore)


@pytest.mark.parametrize(
    "corrupted", CORRUPTIONS, ids=[c.name.replace(" ", "-") for c in CORRUPTIONS], indirect=True
)
def test_each_corruption_fails_its_expectation(
    quality_settings: Settings, corrupted: Corruption
) -> None:
    result = etl_quality(quality_settings, "--suite", corrupted.suite)
    assert result.returncode == 1, result.stdout + result.stderr
    run = QualityRun.model_validate_json(result.stdout)
    (suite,) = run.suites
    assert not suite.success and suite.critical_failed >= 1
    failed = [
        f
        for f in suite.failed_expectations
        if f.expectation == corrupted.expectation
        and (corrupted.column is None or f.column == corrupted.column)
        and (corrupted.words is None or corrupted.words in (f.description or ""))
    ]
    assert failed, suite.failed_expectations
    # the report names it: GX renders the column (with a failed mark) or the description
    page = validation_page(quality_settings, corrupted.suite).read_text()
    assert (corrupted.column or corrupted.words or "") in page
    assert "Failed" in page or "failed" in page


def test_dlq_over_its_bound_fails(quality_settings: Settings, seeded_source: str) -> None:
    topic = f"qdlq-over-{uuid.uuid4().hex[:8]}"
    ensure_topics(quality_settings, [topic])
    producer = Producer({"bootstrap.servers": quality_settings.kafka_bootstrap})
    for n in range(3):
        letter = {"rule": "quantity_positive", "entity": "order_items", "n": n}
        producer.produce(topic, value=json.dumps(letter).encode())
    assert producer.flush(30) == 0
    result = etl_quality(
        quality_settings,
        "--suite",
        "dlq",
        ETL_DLQ_TOPIC_NAME=topic,
        ETL_QUALITY_DLQ_MAX_MESSAGES="2",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    (suite,) = QualityRun.model_validate_json(result.stdout).suites
    failed = {f.expectation for f in suite.failed_expectations}
    assert failed == {"expect_column_sum_to_be_between", "expect_column_values_to_be_between"}


def test_data_docs_render_offline_in_headless_chromium(
    quality_settings: Settings, clean_warehouse: psycopg.Connection
) -> None:
    """A failing run's report, opened from disk: every request stays on file://, the pages are
    styled (Bootstrap's font stack, bootstrap-table's rows), and the failure is shown."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "chromium missing: infra/local/prereqs.sh installs it (apt)"
    clean_warehouse.execute(
        "UPDATE dw.fact_orders SET total_amount = -1"
        " WHERE order_id = (SELECT min(order_id) FROM dw.fact_orders)"
    )
    run = run_quality(quality_settings, ["fact_orders", "dim_customer"])
    assert not run.passed and run.data_docs
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.route(
                "**/*",
                lambda route: (
                    route.continue_() if route.request.url.startswith("file://") else route.abort()
                ),
            )
            page.goto(Path(run.data_docs).as_uri(), wait_until="load")
            assert page.evaluate("typeof jQuery === 'function' && !!jQuery.fn.bootstrapTable")
            assert "Segoe UI" in page.evaluate("getComputedStyle(document.body).fontFamily")
            results = page.locator("table tbody tr", has_text="fact_orders")
            assert results.count() >= 1  # bootstrap-table drew the validation results
            page.screenshot(path=str(ARTIFACTS / "data_docs_index.png"), full_page=True)
            page.goto(validation_page(quality_settings, "fact_orders").as_uri(), wait_until="load")
            assert "total_amount" in page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "data_docs_fact_orders.png"), full_page=True)
        finally:
            browser.close()
    remote = [url for url in requests if not url.startswith(("file://", "data:"))]
    assert requests and not remote, remote
    assert (ARTIFACTS / "data_docs_index.png").stat().st_size > 10_000


def test_dashboard_serves_data_docs_and_the_last_run(
    quality_settings: Settings, clean_warehouse: psycopg.Connection
) -> None:
    run = run_quality(quality_settings, ["agg_daily_sales"])
    client = TestClient(create_app(quality_settings))
    index = client.get("/quality/index.html")
    assert index.status_code == 200 and "agg_daily_sales" in index.text
    assert "static/vendor/bootstrap/4.3.1/css/bootstrap.min.css" in index.text
    css = client.get("/quality/static/vendor/bootstrap/4.3.1/css/bootstrap.min.css")
    assert css.status_code == 200
    last = client.get("/api/quality").json()
    assert last["run_id"] == run.run_id and last["passed"] is True
