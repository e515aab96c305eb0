"""`etl status`'s replication slot warning: when it fires and what it says."""

import pytest

from etl.replication_slot import human_bytes, slot_warning

pytestmark = pytest.mark.unit

MB = 1024 * 1024


def warning(**overrides):
    args = {
        "active": True,
        "retained_bytes": 2 * MB,
        "behind_bytes": 1000,
        "wal_status": "reserved",
        "warn_bytes": 64 * MB,
    }
    return slot_warning("etl_slot", **(args | overrides))


def test_a_slot_read_promptly_gives_no_warning():
    assert warning() is None
    assert warning(behind_bytes=64 * MB - 1) is None


def test_a_slot_behind_by_the_threshold_warns_with_its_name_and_retained_bytes():
    text = warning(behind_bytes=64 * MB, retained_bytes=70 * MB)
    assert text is not None
    assert "etl_slot" in text and "64.0 MB behind" in text
    assert f"{70 * MB} bytes" in text and "not keeping up" in text


def test_an_unread_slot_warns_at_any_lag_but_not_without_lag():
    text = warning(active=False, behind_bytes=4096, retained_bytes=3 * MB)
    assert text is not None
    assert "etl_slot is not being read" in text and "4.0 kB behind" in text
    assert f"{3 * MB} bytes" in text and "etl up" in text
    assert warning(active=False, behind_bytes=0) is None


def test_a_lost_slot_always_warns():
    text = warning(wal_status="lost", behind_bytes=0)
    assert text is not None and "lost WAL" in text


def test_human_bytes():
    assert human_bytes(512) == "512 bytes"
    assert human_bytes(1536) == "1.5 kB"
    assert human_bytes(5 * MB) == "5.0 MB"
    assert human_bytes(3 * 1024 * MB) == "3.0 GB"
