"""The suites derive from the project's declarations, and the offline report covers every CDN
file GX's templates name (a GX upgrade that adds one fails here, not in a user's browser)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import great_expectations
import pytest

from etl.rules import BUSINESS_RULES
from etl.settings import Settings
from etl.tables import captured_table
from quality.offline import _TAG, _WEBJAR_ROOT, CDN_FILES, DROPPED, _localise
from quality.suites import SUITES

pytestmark = pytest.mark.unit
SETTINGS = Settings()
TEMPLATES = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
REPO = Path(__file__).resolve().parents[3]


def expectations_of(source_table: str) -> list:
    (suite,) = (s for s in SUITES if s.source_table == source_table)
    return suite.expectations(SETTINGS)


@pytest.mark.parametrize("rule", BUSINESS_RULES, ids=lambda r: r.name)
def test_every_business_rule_is_an_expectation_on_each_of_its_tables(rule) -> None:
    for table in rule.tables:
        columns = {getattr(e, "column", None) for e in expectations_of(table)}
        assert rule.column in columns, f"{rule.name} is not checked on {table}'s warehouse rows"
        notes = [str(e.notes) for e in expectations_of(table) if getattr(e, "column", None)]
        assert any(rule.name in n for n in notes)


@pytest.mark.parametrize("table", ["customers", "products", "orders", "order_items"])
def test_every_captured_column_must_not_be_null(table: str) -> None:
    not_null = {
        e.column
        for e in expectations_of(table)
        if type(e).__name__ == "ExpectColumnValuesToNotBeNull"
    }
    assert not_null == set(captured_table(table).column_names)


def test_every_cdn_file_of_gx_templates_is_served_locally_or_dropped() -> None:
    urls = {m.group(2) for t in TEMPLATES.rglob("*.j2") for m in _TAG.finditer(t.read_text())}
    assert urls and urls <= set(CDN_FILES) | DROPPED, urls - set(CDN_FILES) - DROPPED


def test_local_copies_exist_in_the_webjars() -> None:
    webjars = Path(os.environ.get("ETL_LIB_DIR", REPO / ".etl" / "lib")) / "webjars"
    names = set()
    for jar in webjars.glob("*.jar"):
        with zipfile.ZipFile(jar) as archive:
            names |= {n[len(_WEBJAR_ROOT) :] for n in archive.namelist()}
    assert names, f"no WebJars in {webjars}: `make jars`"
    assert set(CDN_FILES.values()) <= names, set(CDN_FILES.values()) - names


def test_pages_lose_every_remote_load() -> None:
    page = (
        '<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/'
        'bootstrap.min.css"/><script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js" integrity="sha384-x"'
        ' crossorigin="anonymous"></script><img class="x" src="https://s3.example/logo.png"'
        " alt=\"Great Expectations\"><style>a { background: url('https://s3.example/l.png') }"
        "</style>"
    )
    local = _localise(page, "../")
    assert "https://" not in local and "integrity" not in local and "crossorigin" not in local
    assert '../static/vendor/jquery/3.7.1/jquery.min.js"' in local
    assert "Great Expectations" in local
