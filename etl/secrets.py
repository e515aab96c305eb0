"""The local stack's database passwords: generated once per ETL_HOME, kept owner-only.

`etl up` calls `ensure_local_passwords` first. On the first run it generates one random password
per database role (`etl.settings.DB_ROLES`) and writes `<home>/secrets/passwords.json`; later runs
read it back (`Settings` does so itself, below `ETL_*` variables in priority). Guarantees:

- the file never exists with a mode wider than 0600: it is written to a temporary file opened
  with `O_CREAT | O_EXCL` and mode 0600, then hard-linked into place, which also makes two
  concurrent first runs agree (the second link fails, and that run reads the winner's file);
- the folder is 0700; the libpq password file beside it (`pgpass`, what `etl env`'s DSNs name)
  is written the same way;
- passwords reach child processes through their environment or these files, never through a
  command line (`/proc/<pid>/cmdline` is world-readable).

An ETL_HOME made by an older version has clusters whose roles still have the old fixed passwords
(`LEGACY_PASSWORDS`); `infra.local.bootstrap.adopt_generated_password` moves them to the
generated ones on the next `etl up`, saying so once.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from etl.settings import DB_ROLES, PASSWORDS_FILE, Settings

#: Passwords of an ETL_HOME made before passwords were generated (user "etl", "debezium").
LEGACY_PASSWORDS: dict[str, str] = {"db_password": "etl", "replication_password": "debezium"}
PASSWORD_BYTES = 24  # token_urlsafe: 32 characters, no characters libpq or URIs need escaped
REDACTED = "********"


def passwords_path(settings: Settings) -> Path:
    return settings.home / PASSWORDS_FILE


def pgpass_path(settings: Settings) -> Path:
    return settings.secrets_dir / "pgpass"


def write_private(path: Path, text: str, *, replace: bool = True) -> bool:
    """Write `text` to `path` with mode 0600 from its first byte; False if `replace` is off and
    the file exists already (then it is left as it is)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def generate_passwords() -> dict[str, str]:
    return {field: secrets.token_urlsafe(PASSWORD_BYTES) for _, field in DB_ROLES.values()}


def pgpass_text(settings: Settings) -> str:
    """libpq password file lines for every role this process knows, any host/port/database."""

    def escaped(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")

    lines = ["# written by `etl up`: passwords of this ETL_HOME's database roles\n"]
    for role in DB_ROLES:
        user, password = settings.credentials(role)
        if password is not None:
            lines.append(f"*:*:*:{escaped(user)}:{escaped(password.get_secret_value())}\n")
    return "".join(lines)


def ensure_local_passwords(settings: Settings) -> tuple[Settings, bool]:
    """This ETL_HOME's settings with its passwords; generate and store them on the first run.

    Returns (settings, generated_now). Passwords given explicitly (`ETL_*_PASSWORD`) win over the
    file, as they do in `Settings()`.
    """
    path = passwords_path(settings)
    generated = write_private(
        path, json.dumps(generate_passwords(), indent=2) + "\n", replace=False
    )
    stored = json.loads(path.read_text())
    missing = {
        field: SecretStr(stored[field])
        for _, field in DB_ROLES.values()
        if getattr(settings, field) is None and field in stored
    }
    settings = settings.model_copy(update=missing)
    pgpass = pgpass_path(settings)
    text = pgpass_text(settings)
    if not pgpass.exists() or pgpass.read_text() != text:
        write_private(pgpass, text)
    return settings, generated


def redact(text: str, settings: Settings | None) -> str:
    """`text` with every password `settings` knows replaced, as is and URL-quoted (in a DSN)."""
    from urllib.parse import quote

    known: set[str] = set()
    for password in settings.passwords() if settings is not None else []:
        known |= {password, quote(password, safe="")}
    for password in sorted(known, key=len, reverse=True):
        text = text.replace(password, REDACTED)
    return text
