"""The ledger's records of dropped source files (the autoloader's exactly-once unit: one object version, URI and
ETag), kept in the same ``loaded_files`` table as the staged files and marked ``origin = 'source'``.

Statuses: ``staged`` (converted into the stage, not loaded yet), ``loaded`` (its rows are in the target, committed
with them), ``failed`` (``error`` says why; ``attempts`` counts the failures), ``skipped`` (a new version of a
processed file while ``allow_overwrites`` is false), ``superseded`` (processed, but its rows went with a dropped
table: a fresh start) and ``cleared`` (to be loaded again)."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline_assets.core.records import SourceFile
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.ledger import LEDGER_TABLE, SCHEMA, TABLE, Ledger, column_sql
from pipeline_assets.warehouses.transaction import Transaction

_ADDED = {"attempts": "INTEGER", "origin": "TEXT", "source_modified": "TIMESTAMPTZ"}
SOURCE = "source"
PROCESSED = ("loaded", "deleted", "superseded")  # never loaded again unless cleared
_FIELDS = (
    'file_uri, etag, bytes, "rows", partition_key, run_id, load_run_id, status, error, attempts, source_modified, '
    "updated_at"
)


@dataclass(frozen=True)
class SourceRecord:
    uri: str
    etag: str
    bytes: int | None
    rows: int | None
    partition: str | None
    run_id: str | None  # the run that last converted (or tried to convert) it
    load_run_id: str | None
    status: str
    error: str | None
    attempts: int
    modified: datetime | None
    updated_at: datetime


class SourceLedger:
    """Reads and writes source-file records through an open warehouse transaction."""

    def __init__(self, tx: Transaction):
        self.tx, self.p = tx, tx.placeholder

    def ensure(self) -> None:
        Ledger(self.tx).ensure()
        have = {
            r[0]
            for r in self.tx.execute(
                "SELECT lower(column_name) FROM information_schema.columns WHERE table_schema = "
                f"{self.p} AND table_name = {self.p}",
                [SCHEMA, TABLE],
            )
        }
        for (
            column,
            kind,
        ) in _ADDED.items():  # checked first: an ALTER would lock the ledger even when it changes nothing
            if column not in have:
                self.tx.execute(f"ALTER TABLE {LEDGER_TABLE} ADD COLUMN {column} {kind}")

    def records(
        self,
        target: TargetTable,
        uris: Iterable[str] | None = None,
        statuses: Iterable[str] | None = None,
        partition: str | None = None,
    ) -> list[SourceRecord]:
        """The source records of ``target`` (of these ``uris``, in these ``statuses``, of this ``partition``)."""
        where, params = [f"target_table = {self.p}", "origin = 'source'"], [str(target)]
        if statuses is not None:
            statuses = list(statuses)
            where.append(f"status IN ({', '.join([self.p] * len(statuses))})")
            params += statuses
        if partition is not None:
            where.append(f"partition_key = {self.p}")
            params.append(partition)
        sql = f"SELECT {_FIELDS} FROM {LEDGER_TABLE} WHERE {' AND '.join(where)}"
        if uris is None:
            return [self._record(r) for r in self.tx.execute(sql + " ORDER BY source_modified, file_uri", params)]
        uris, found = list(uris), []
        for start in range(0, len(uris), 500):  # bounded IN lists
            chunk = uris[start : start + 500]
            found += self.tx.execute(sql + f" AND file_uri IN ({', '.join([self.p] * len(chunk))})", params + chunk)
        return [self._record(r) for r in found]

    @staticmethod
    def _record(row: tuple) -> SourceRecord:
        uri, etag, size, rows, partition, run_id, load_run_id, status, error, attempts, modified, updated_at = row
        return SourceRecord(
            uri, etag, size, rows, partition, run_id, load_run_id, status, error, attempts or 0, modified, updated_at
        )

    def set(
        self,
        target: TargetTable,
        file: SourceFile,
        status: str,
        *,
        table: str,
        partition: str,
        run_id: str,
        rows: int | None = None,
        error: str | None = None,
        failed: bool = False,
        load_run_id: str | None = None,
    ) -> None:
        """Insert or update the record of ``file`` (``failed`` also counts an attempt)."""
        now, p = datetime.now(UTC), self.p
        loaded_at = now if status == "loaded" else None
        attempts = "COALESCE(attempts, 0) + 1" if failed else "COALESCE(attempts, 0)"
        changed = self.tx.execute_count(
            f'UPDATE {LEDGER_TABLE} SET status = {p}, error = {p}, "rows" = COALESCE({p}, "rows"), run_id = {p}, '
            f"loaded_at = {p}, load_run_id = COALESCE({p}, load_run_id), attempts = {attempts}, updated_at = {p} "
            f"WHERE target_table = {p} AND file_uri = {p} AND etag = {p}",
            [
                status,
                error and error[:2000],
                rows,
                run_id,
                loaded_at,
                load_run_id,
                now,
                str(target),
                file.uri,
                file.etag,
            ],
        )
        if changed:
            return
        values = {
            "target_table": str(target),
            "file_uri": file.uri,
            "etag": file.etag,
            "bytes": file.bytes,
            "rows": rows,
            "stage_table": table,
            "partition_key": partition,
            "run_id": run_id,
            "staged_at": now,
            "loaded_at": loaded_at,
            "load_run_id": load_run_id,
            "status": status,
            "error": error and error[:2000],
            "updated_at": now,
            "attempts": int(failed),
            "origin": SOURCE,
            "source_modified": file.modified,
        }
        self.tx.execute(
            f"INSERT INTO {LEDGER_TABLE} ({', '.join(column_sql(c) for c in values)}) "
            f"VALUES ({', '.join([p] * len(values))})",
            list(values.values()),
        )

    def mark(self, target: TargetTable, uris_etags: Iterable[tuple[str, str]], status: str, *, unload: bool) -> int:
        """Set ``status`` on these source records; ``unload`` forgets that their rows were loaded."""
        changed = 0
        unloaded = ", loaded_at = NULL" if unload else ""
        for uri, etag in uris_etags:
            changed += self.tx.execute_count(
                f"UPDATE {LEDGER_TABLE} SET status = {self.p}, updated_at = {self.p}{unloaded} "
                f"WHERE target_table = {self.p} AND file_uri = {self.p} AND etag = {self.p}",
                [status, datetime.now(UTC), str(target), uri, etag],
            )
        return changed

    def supersede_all(self, target: TargetTable) -> int:
        """Every record whose rows the target holds (source files and staged files alike): those rows are gone now."""
        return self.tx.execute_count(
            f"UPDATE {LEDGER_TABLE} SET status = 'superseded', loaded_at = NULL, updated_at = {self.p} "
            f"WHERE target_table = {self.p} AND status IN ('loaded', 'deleted') AND loaded_at IS NOT NULL",
            [datetime.now(UTC), str(target)],
        )

    def clear(self, target: TargetTable, uris_etags: Iterable[tuple[str, str]] | None = None) -> int:
        """These source records (every one of ``target`` when None) become ``cleared``: loaded again, attempts anew."""
        sql = (
            f"UPDATE {LEDGER_TABLE} SET status = 'cleared', loaded_at = NULL, load_run_id = NULL, attempts = 0, "
            f"error = NULL, updated_at = {self.p} "
            f"WHERE target_table = {self.p} AND origin = 'source' AND status <> 'cleared'"
        )
        if uris_etags is None:
            return self.tx.execute_count(sql, [datetime.now(UTC), str(target)])
        return sum(
            self.tx.execute_count(
                sql + f" AND file_uri = {self.p} AND etag = {self.p}", [datetime.now(UTC), str(target), uri, etag]
            )
            for uri, etag in uris_etags
        )
