import pytest

from etl.errors import EtlError
from etl.migrations import SQL_ROOT, discover

pytestmark = pytest.mark.unit


def test_versions_order_numerically(tmp_path):
    for name in ["V010__ten.sql", "V002__two.sql", "V001__one.sql"]:
        (tmp_path / name).write_text("SELECT 1;")
    assert [m.version for m in discover(tmp_path)] == [1, 2, 10]


def test_bad_file_name_is_an_error(tmp_path):
    (tmp_path / "001_init.sql").write_text("SELECT 1;")
    with pytest.raises(EtlError, match=r"V<NNN>__<name>\.sql"):
        discover(tmp_path)


def test_duplicate_versions_are_an_error(tmp_path):
    (tmp_path / "V001__a.sql").write_text("SELECT 1;")
    (tmp_path / "V0001__b.sql").write_text("SELECT 1;")
    with pytest.raises(EtlError, match="share version 1"):
        discover(tmp_path)


def test_checksum_follows_content(tmp_path):
    path = tmp_path / "V001__a.sql"
    path.write_text("SELECT 1;")
    before = discover(tmp_path)[0].checksum
    path.write_text("SELECT 2;")
    assert discover(tmp_path)[0].checksum != before


def test_source_migrations_are_discoverable():
    assert discover(SQL_ROOT / "source")[0].name == "shop_schema"
