"""Debezium's replication slot as `etl status` reports it: how much WAL it holds, how far behind.

A logical slot keeps every WAL segment from its `restart_lsn` on until its consumer confirms
it. While the pipeline runs, Debezium confirms within seconds (offset flushes, heartbeats); when
it is stopped or stuck, the slot's lag grows with every source write and the WAL it retains
fills the disk up to `max_slot_wal_keep_size`, after which the slot is lost (a new snapshot).
`etl status` therefore warns (`slot_warning`) when the slot is not being read and lags at all,
or is read but lags by `ETL_SLOT_LAG_WARN_BYTES` or more. In the base layer: the status command
(infra) and the dashboard (app) both read it.
"""

from __future__ import annotations

import psycopg
from pydantic import BaseModel

_SLOT = (
    "SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,"
    " pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, wal_status"
    " FROM pg_replication_slots WHERE slot_name = %s"
)


class SlotLag(BaseModel):
    """`retained_bytes`: WAL the slot keeps (current LSN - restart_lsn); `behind_bytes`: changes
    written but not confirmed by its consumer (current LSN - confirmed_flush_lsn)."""

    slot_name: str
    active: bool
    retained_bytes: int
    behind_bytes: int
    wal_status: str | None
    warning: str | None = None


def human_bytes(value: int) -> str:
    """1536 -> '1.5 kB' (binary units); below 1 kB the plain count."""
    if value < 1024:
        return f"{value} bytes"
    size, unit = value / 1024, "kB"
    for bigger in ("MB", "GB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.1f} {unit}"


def slot_warning(
    slot: str,
    *,
    active: bool,
    retained_bytes: int,
    behind_bytes: int,
    wal_status: str | None,
    warn_bytes: int,
) -> str | None:
    """One line when the slot needs attention, else None (see the module docstring)."""
    held = f"holds {human_bytes(retained_bytes)} of WAL ({retained_bytes} bytes)"
    if wal_status == "lost":
        return (
            f"replication slot {slot} lost WAL it still needed (max_slot_wal_keep_size): "
            "changes were dropped; the connector needs a new snapshot"
        )
    if not active and behind_bytes > 0:
        return (
            f"replication slot {slot} is not being read and is {human_bytes(behind_bytes)} "
            f"behind the source; it {held}: start the pipeline (`etl up`)"
        )
    if behind_bytes >= warn_bytes:
        return (
            f"replication slot {slot} is {human_bytes(behind_bytes)} behind the source; it "
            f"{held}: the connector is not keeping up"
        )
    return None


def slot_lag(dsn: str, slot: str, warn_bytes: int) -> SlotLag | None:
    """The slot's lag and its warning; None when the slot does not exist (yet)."""
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        row = conn.execute(_SLOT, (slot,)).fetchone()
    if row is None:
        return None
    active, retained, behind, wal_status = row
    retained, behind = int(retained or 0), max(0, int(behind or 0))
    return SlotLag(
        slot_name=slot,
        active=bool(active),
        retained_bytes=retained,
        behind_bytes=behind,
        wal_status=wal_status,
        warning=slot_warning(
            slot,
            active=bool(active),
            retained_bytes=retained,
            behind_bytes=behind,
            wal_status=wal_status,
            warn_bytes=warn_bytes,
        ),
    )
