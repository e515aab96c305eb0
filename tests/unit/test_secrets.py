"""Generated passwords: owner-only from the first byte, one set per ETL_HOME, never printed."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from etl.secrets import (
    LEGACY_PASSWORDS,
    REDACTED,
    ensure_local_passwords,
    passwords_path,
    pgpass_path,
    redact,
    write_private,
)
from etl.settings import PASSWORD_FIELDS, Settings

pytestmark = pytest.mark.unit


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_run_generates_private_passwords(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even a permissive umask leaves them owner-only
    try:
        settings, generated = ensure_local_passwords(Settings(home=tmp_path))
    finally:
        os.umask(old_umask)
    assert generated
    path = passwords_path(settings)
    assert _mode(path) == 0o600 and _mode(pgpass_path(settings)) == 0o600
    assert _mode(path.parent) == 0o700
    stored = json.loads(path.read_text())
    assert set(stored) == set(PASSWORD_FIELDS)
    values = list(stored.values())
    assert len(set(values)) == len(values)  # one password per role
    assert not set(values) & set(LEGACY_PASSWORDS.values())
    assert all(len(v) >= 32 for v in values)
    assert [getattr(settings, f).get_secret_value() for f in PASSWORD_FIELDS] == values
    # no temporary file left beside them
    assert sorted(p.name for p in path.parent.iterdir()) == ["passwords.json", "pgpass"]


def test_later_runs_read_the_same_passwords_and_settings_find_them(tmp_path: Path) -> None:
    first, _ = ensure_local_passwords(Settings(home=tmp_path))
    again, generated = ensure_local_passwords(Settings(home=tmp_path))
    assert not generated
    assert again.passwords() == first.passwords()
    # Settings() reads them by itself (the CLI's commands other than `up`)
    assert Settings(home=tmp_path, passwords_file=True).passwords() == first.passwords()


def test_each_home_gets_its_own_passwords(tmp_path: Path) -> None:
    a, _ = ensure_local_passwords(Settings(home=tmp_path / "a"))
    b, _ = ensure_local_passwords(Settings(home=tmp_path / "b"))
    assert not set(a.passwords()) & set(b.passwords())


def test_an_explicit_password_wins_over_the_file(tmp_path: Path) -> None:
    ensure_local_passwords(Settings(home=tmp_path))
    chosen, _ = ensure_local_passwords(Settings(home=tmp_path, db_password=SecretStr("mine")))
    assert chosen.password("admin") == "mine"


def _first_run(home: str) -> list[str]:
    return ensure_local_passwords(Settings(home=Path(home)))[0].passwords()


def test_concurrent_first_runs_agree(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4) as pool:
        results = list(pool.map(_first_run, [str(tmp_path)] * 8))
    assert all(r == results[0] for r in results)


def test_write_private_never_replaces_when_told_not_to(tmp_path: Path) -> None:
    path = tmp_path / "s" / "f"
    assert write_private(path, "one", replace=False)
    assert not write_private(path, "two", replace=False)
    assert path.read_text() == "one" and _mode(path) == 0o600


def test_redact_masks_plain_and_url_quoted_passwords() -> None:
    settings = Settings(db_password=SecretStr("p@ss/word"), reader_password=SecretStr("r3ad"))
    text = f"{settings.source_dsn()} and r3ad and p@ss/word"
    masked = redact(text, settings)
    assert "p@ss" not in masked and "p%40ss" not in masked and "r3ad" not in masked
    assert masked.count(REDACTED) == 3
