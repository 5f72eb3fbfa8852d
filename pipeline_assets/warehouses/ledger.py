"""The loaded-files ledger: one row per staged file and target, kept in the target warehouse and written in
the same transaction as the rows a load commits. It never expires and survives re-creating the target table.

Statuses: ``staged`` (written to the stage, not loaded), ``loaded`` (``rows_loaded`` of its rows; ``error`` holds the
first rejected row's error when ``on_error: continue`` dropped some), ``superseded`` (its rows were replaced by a
later load of the same partition), ``failed`` (its load failed; ``error`` says why), ``skipped`` (left out of a load
under ``on_error: skip_file``; ``error`` says why; the next load tries it again), ``cleared`` (to be processed
again) and ``deleted`` (removed from the stage). ``loaded_at`` is set exactly while the file's rows are in the
target, whatever happened to the file itself.
"""

from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime

from pipeline_assets.core.manifest import Manifest, StagedFile
from pipeline_assets.core.records import LedgerRecord
from pipeline_assets.core.target import BOOKKEEPING_SCHEMA, TargetTable
from pipeline_assets.warehouses.transaction import FileOutcome, Transaction

SCHEMA, TABLE = BOOKKEEPING_SCHEMA, "loaded_files"
STATUSES = ("staged", "loaded", "superseded", "failed", "skipped", "cleared", "deleted")
# Whose rows are in the target (as far as the ledger knows): never load these again, never clear them silently.
IN_TARGET = ("loaded", "deleted")


COLUMNS = [f.name for f in fields(LedgerRecord)]


def column_sql(name: str) -> str:
    """A ledger column as SQL: ``rows`` is a reserved word in Snowflake, so it is always quoted."""
    return f'"{name}"' if name == "rows" else name


COLUMN_LIST = ", ".join(column_sql(c) for c in COLUMNS)
_DDL = f"""CREATE TABLE IF NOT EXISTS "{SCHEMA}"."{TABLE}" (
    target_table TEXT NOT NULL, file_uri TEXT NOT NULL, etag TEXT NOT NULL, bytes BIGINT, "rows" BIGINT,
    stage_table TEXT, partition_key TEXT, run_id TEXT, staged_at TIMESTAMPTZ, loaded_at TIMESTAMPTZ,
    load_run_id TEXT, status TEXT NOT NULL, error TEXT, updated_at TIMESTAMPTZ NOT NULL, rows_loaded BIGINT,
    PRIMARY KEY (target_table, file_uri, etag))"""
LEDGER_TABLE = f'"{SCHEMA}"."{TABLE}"'  # quoted, for SQL text


class Ledger:
    """Reads and writes the ledger through an open warehouse transaction (so it commits with the data)."""

    def __init__(self, tx: Transaction):
        self.tx = tx
        self.p = tx.placeholder

    def ensure(self) -> None:
        self.tx.execute(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"')
        self.tx.execute(_DDL)
        known = self.tx.execute(
            f"SELECT count(*) FROM information_schema.columns WHERE table_schema = {self.p} AND "
            f"table_name = {self.p} AND lower(column_name) = 'rows_loaded'",
            [SCHEMA, TABLE],
        )[0][0]
        if not known:  # a ledger made before per-file results were kept
            self.tx.execute(f"ALTER TABLE {LEDGER_TABLE} ADD COLUMN rows_loaded BIGINT")

    def record_staged(self, target: TargetTable, manifest: Manifest) -> None:
        """Note a staging run's files; a file the ledger already knows keeps its record."""
        now = datetime.now(UTC)
        for f in manifest.all_files:
            if not self._known(target, f):
                self._insert(target, manifest, f, status="staged", at=now)

    def _known(self, target: TargetTable, f: StagedFile) -> bool:
        sql = (
            f"SELECT count(*) FROM {LEDGER_TABLE} "
            f"WHERE target_table = {self.p} AND file_uri = {self.p} AND etag = {self.p}"
        )
        return self.tx.execute(sql, [str(target), f.uri, f.etag])[0][0] > 0

    def _insert(
        self,
        target: TargetTable,
        manifest: Manifest,
        f: StagedFile,
        *,
        status: str,
        at: datetime,
        loaded_at: datetime | None = None,
        by: str | None = None,
        error: str | None = None,
        rows_loaded: int | None = None,
    ) -> None:
        """A new record of ``f`` (staged ``at``), in ``COLUMNS`` order."""
        values = [str(target), f.uri, f.etag, f.bytes, f.rows, manifest.table, manifest.partition, manifest.run_id]
        values += [at, loaded_at, by, status, error, at, rows_loaded]
        # check-then-insert rather than ON CONFLICT, which Snowflake and Redshift lack; loads hold the target's lock
        placeholders = ", ".join([self.p] * len(values))
        self.tx.execute(f"INSERT INTO {LEDGER_TABLE} ({COLUMN_LIST}) VALUES ({placeholders})", values)

    def in_target(self, target: TargetTable, files: Iterable[StagedFile]) -> set[tuple[str, str]]:
        """``(uri, etag)`` of the given files whose rows the target already holds."""
        wanted = {(f.uri, f.etag) for f in files}
        rows = self.records(target, statuses=IN_TARGET)
        return {(r.file_uri, r.etag) for r in rows if (r.file_uri, r.etag) in wanted and r.loaded_at is not None}

    def supersede(self, target: TargetTable, partition: str) -> int:
        """Mark the partition's loaded files superseded (their rows were just deleted); return how many."""
        return self.tx.execute_count(
            f"UPDATE {LEDGER_TABLE} SET status = CASE WHEN status = 'loaded' THEN 'superseded' ELSE status END,"
            f" loaded_at = NULL, updated_at = {self.p} WHERE target_table = {self.p} AND partition_key = {self.p}"
            " AND status IN ('loaded', 'deleted') AND loaded_at IS NOT NULL",
            [datetime.now(UTC), str(target), partition],
        )

    def mark_loaded(self, target: TargetTable, manifest: Manifest, files: Iterable[StagedFile], run_id: str) -> None:
        self.record_outcomes(target, manifest, [FileOutcome(f, "loaded", f.rows) for f in files], run_id)

    def record_outcomes(
        self, target: TargetTable, manifest: Manifest, outcomes: Iterable[FileOutcome], run_id: str
    ) -> None:
        """Each file's result from a load: ``loaded`` (wholly or in part, with ``rows_loaded``) or ``skipped``."""
        now = datetime.now(UTC)
        for o in outcomes:
            f, kept = o.file, o.status != "skipped"
            status, loaded_at, by = ("loaded", now, run_id) if kept else ("skipped", None, None)
            error = o.error[:2000] if o.error else None
            updated = self.tx.execute_count(
                f"UPDATE {LEDGER_TABLE} SET status = {self.p}, loaded_at = {self.p}, load_run_id = {self.p}, "
                f"error = {self.p}, rows_loaded = {self.p}, updated_at = {self.p} "
                f"WHERE target_table = {self.p} AND file_uri = {self.p} AND etag = {self.p}",
                [status, loaded_at, by, error, o.rows_loaded, now, str(target), f.uri, f.etag],
            )
            if not updated:
                self._insert(
                    target,
                    manifest,
                    f,
                    status=status,
                    at=now,
                    loaded_at=loaded_at,
                    by=by,
                    error=error,
                    rows_loaded=o.rows_loaded,
                )

    def set_status(self, target: TargetTable | None, uris: Iterable[str], status: str, *, unload: bool = False) -> int:
        """Set ``status`` on the records of ``uris`` (of ``target``, or of every target); ``unload`` also forgets
        that their rows were loaded. Returns how many records changed."""
        changed = 0
        for uri in uris:
            where, params = "file_uri = " + self.p, [uri]
            if target is not None:
                where, params = where + f" AND target_table = {self.p}", [uri, str(target)]
            unloaded = ", loaded_at = NULL, load_run_id = NULL" if unload else ""
            changed += self.tx.execute_count(
                f"UPDATE {LEDGER_TABLE} SET status = {self.p}, updated_at = {self.p}{unloaded} WHERE {where}",
                [status, datetime.now(UTC), *params],
            )
        return changed

    def mark_failed(self, target: TargetTable, files: Iterable[StagedFile], error: str) -> None:
        """Note why a load failed, on the files it was loading that are not in the target."""
        for f in files:
            self.tx.execute(
                f"UPDATE {LEDGER_TABLE} SET status = 'failed', error = {self.p}, updated_at = {self.p} WHERE "
                f"target_table = {self.p} AND file_uri = {self.p} AND etag = {self.p} "
                "AND status IN ('staged', 'cleared', 'skipped')",
                [error[:2000], datetime.now(UTC), str(target), f.uri, f.etag],
            )

    def records(
        self,
        target: TargetTable | None = None,
        *,
        partition: str | None = None,
        statuses: Iterable[str] | None = None,
        stage_table: str | None = None,
    ) -> list[LedgerRecord]:
        where, params = [], []
        for column, value in (
            ("target_table", target and str(target)),
            ("partition_key", partition),
            ("stage_table", stage_table),
        ):
            if value is not None:
                where.append(f"{column} = {self.p}")
                params.append(value)
        if statuses is not None:
            statuses = list(statuses)
            where.append(f"status IN ({', '.join([self.p] * len(statuses))})")
            params += statuses
        sql = f"SELECT {COLUMN_LIST} FROM {LEDGER_TABLE}" + (" WHERE " + " AND ".join(where) if where else "")
        return [LedgerRecord(*row) for row in self.tx.execute(sql + " ORDER BY staged_at, file_uri", params)]
