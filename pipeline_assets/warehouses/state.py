"""Per-table watermarks, kept in the warehouse next to the ledger so a watermark advances in the same
transaction as the rows it describes, with an audited history of every change."""

import json
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Literal

from pipeline_assets.warehouses.ledger import SCHEMA
from pipeline_assets.warehouses.transaction import Transaction

_STATE, _HISTORY = f'"{SCHEMA}"."watermarks"', f'"{SCHEMA}"."watermark_history"'
_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {_STATE} (table_name TEXT PRIMARY KEY, target_table TEXT, cursor_value TIMESTAMPTZ,
        last_extraction_at TIMESTAMPTZ, extract_status TEXT, load_status TEXT, strategy TEXT, metadata TEXT,
        updated_at TIMESTAMPTZ NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS {_HISTORY} (table_name TEXT NOT NULL, old_value TIMESTAMPTZ, new_value TIMESTAMPTZ,
        changed_at TIMESTAMPTZ NOT NULL, changed_by TEXT, reason TEXT)""",
]


@dataclass(frozen=True)
class Watermark:
    """Both stages of a table's progress: what was extracted (when, how it went) and what the target holds."""

    table_name: str
    target_table: str | None
    cursor_value: datetime | None  # rows with a cursor below this are in the target
    last_extraction_at: datetime | None
    extract_status: str | None  # pending / success / failed
    load_status: str | None
    strategy: str | None  # scheduled / backfill / manual / full_refresh
    metadata: str | None
    updated_at: datetime


_COLUMNS = [f.name for f in fields(Watermark)]


@dataclass(frozen=True)
class Change:
    """One change in a watermark's history, numbered from the first."""

    number: int
    old_value: datetime | None
    new_value: datetime | None
    changed_at: datetime
    changed_by: str | None
    reason: str | None


def _utc(mark: Watermark) -> Watermark:
    """Timestamps in UTC whatever the session's time zone (DuckDB answers in the process's)."""
    moved = {
        f: getattr(mark, f).astimezone(UTC)
        for f in ("cursor_value", "last_extraction_at", "updated_at")
        if getattr(mark, f) is not None
    }
    return replace(mark, **moved)


class Watermarks:
    """Reads and moves watermarks through an open warehouse transaction."""

    def __init__(self, tx: Transaction):
        self.tx, self.p = tx, tx.placeholder

    def ensure(self) -> None:
        self.tx.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
        for statement in _DDL:
            self.tx.execute(statement)

    def get(self, name: str) -> Watermark | None:
        rows = self.tx.execute(f"SELECT {', '.join(_COLUMNS)} FROM {_STATE} WHERE table_name = {self.p}", [name])
        return _utc(Watermark(*rows[0])) if rows else None

    def all(self) -> list[Watermark]:
        return [
            _utc(Watermark(*r))
            for r in self.tx.execute(f"SELECT {', '.join(_COLUMNS)} FROM {_STATE} ORDER BY table_name")
        ]

    def history(self, name: str, limit: int = 10) -> list[Change]:
        """The ``limit`` latest changes of ``name``'s watermark, newest first, each with its number (1 is the first
        change ever: the history only grows, so a number always names the same change)."""
        sql = (
            f"SELECT old_value, new_value, changed_at, changed_by, reason FROM {_HISTORY} WHERE table_name = {self.p}"
            " ORDER BY changed_at, new_value"
        )
        rows = self.tx.execute(sql, [name])
        changes = [
            Change(n, old and old.astimezone(UTC), new and new.astimezone(UTC), at.astimezone(UTC), by, reason)
            for n, (old, new, at, by, reason) in enumerate(rows, 1)
        ]
        return changes[::-1][: int(limit)]

    def move(
        self,
        name: str,
        target: str,
        value: datetime | None,
        *,
        by: str,
        reason: str,
        strategy: str,
        load_status: str | None = None,
        metadata: dict | None = None,
    ) -> None:
        """Set the watermark (None resets it) and record the change in the history."""
        current = self.get(name)
        now = datetime.now(UTC)
        old = current.cursor_value if current else None
        if current is None:
            self.tx.execute(
                f"INSERT INTO {_STATE} ({', '.join(_COLUMNS)}) VALUES ({', '.join([self.p] * len(_COLUMNS))})",
                [name, target, value, None, None, load_status, strategy, json.dumps(metadata or {}), now],
            )
        else:
            self.tx.execute(
                f"UPDATE {_STATE} SET cursor_value = {self.p}, strategy = {self.p}, load_status = {self.p}, "
                f"metadata = {self.p}, updated_at = {self.p}, target_table = {self.p} WHERE table_name = {self.p}",
                [value, strategy, load_status or current.load_status, json.dumps(metadata or {}), now, target, name],
            )
        self.tx.execute(
            f"INSERT INTO {_HISTORY} VALUES ({', '.join([self.p] * 6)})", [name, old, value, now, by, reason]
        )

    def record_extraction(self, name: str, target: str, status: str, at: datetime) -> None:
        """The extract stage's half of the record: when it ran and how it went (the load is marked pending); a success
        clears the extraction's last failure."""
        metadata = self._metadata(name, target)
        for key in ("extract_error", "extract_failed_at"):
            metadata.pop(key, None)
        self.tx.execute(
            f"UPDATE {_STATE} SET last_extraction_at = {self.p}, extract_status = {self.p}, load_status = 'pending', "
            f"metadata = {self.p}, updated_at = {self.p} WHERE table_name = {self.p}",
            [at, status, json.dumps(metadata), datetime.now(UTC), name],
        )

    def record_failure(self, name: str, target: str, stage: Literal["extract", "load"], error: str) -> None:
        """``stage`` failed: its status becomes ``failed``, with the error and the time in the metadata (``watermark
        get`` shows them) until that stage next succeeds. The cursor value does not move."""
        now = datetime.now(UTC)
        metadata = self._metadata(name, target) | {
            f"{stage}_error": error[:2000],
            f"{stage}_failed_at": now.isoformat(),
        }
        self.tx.execute(
            f"UPDATE {_STATE} SET {stage}_status = 'failed', metadata = {self.p}, updated_at = {self.p} "
            f"WHERE table_name = {self.p}",
            [json.dumps(metadata), now, name],
        )

    def _metadata(self, name: str, target: str) -> dict:
        """The record's metadata, creating the record (without a cursor value) on a table's first run."""
        current = self.get(name)
        if current is None:
            self.move(name, target, None, by="extract", reason="first extraction", strategy="scheduled")
            return {}
        return json.loads(current.metadata or "{}")
