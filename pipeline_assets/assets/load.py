"""What a warehouse asset does for one day (or the whole table): load that day's staging run in a transaction of
its own, verified and recorded in the ledger, and describe the result."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import dagster as dg

from pipeline_assets.assets.incremental import advance, check_loadable, pending_manifests
from pipeline_assets.config import TableConfig
from pipeline_assets.core.manifest import Manifest
from pipeline_assets.core.progress import Progress
from pipeline_assets.core.schema import SOURCE_TYPE_KEY
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses import LoadRequest, LoadResult, Warehouse


@dataclass(frozen=True)
class Loading:
    """Everything a table's load run needs, opened once and shared by the days it covers."""

    context: dg.AssetExecutionContext
    table: TableConfig
    target: TargetTable
    prefix: str
    warehouse: Warehouse
    store: StageStore
    full_refresh: bool

    @property
    def run_id(self) -> str:
        return self.context.run.run_id

    @property
    def incremental(self) -> bool:
        return self.table.partitioning == "incremental"


@dataclass(frozen=True)
class Loaded:
    """One staging run loaded: its manifest, the load's result and the watermark before and after."""

    manifest: Manifest
    result: LoadResult | None  # None: this run loaded it already, before a retry of its step
    before: datetime | None = None
    after: datetime | None = None


def load_day(run: Loading, manifest: Manifest) -> list[Loaded]:
    """Load ``manifest`` (a load-only run of an incremental table: every staging run not loaded yet, oldest first)."""
    if run.context.retry_number > 0 and _loaded_by(run, manifest):
        return [Loaded(manifest, None)]
    batch = [manifest]
    if run.incremental and not run.full_refresh and manifest.run_id != run.run_id:
        batch = pending_manifests(run.store, run.warehouse, run.table, run.target, run.prefix)
        if not batch:  # nothing staged that the target lacks (or nothing from the timestamp a user set)
            return [Loaded(manifest, None)]
    return [_load_one(run, m) for m in batch]


def _loaded_by(run: Loading, manifest: Manifest) -> bool:
    """Whether this run committed ``manifest`` already (then its step failed later and is being retried)."""
    if not manifest.files:
        return False
    with run.warehouse.ledger() as ledger:
        records = ledger.records(run.target, partition=manifest.partition, statuses=("loaded",))
    mine = {(r.file_uri, r.etag) for r in records if r.load_run_id == run.run_id}
    return all((f.uri, f.etag) in mine for f in manifest.files)


def _load_one(run: Loading, manifest: Manifest) -> Loaded:
    table = run.table
    before = check_loadable(run.warehouse, table, manifest, run.full_refresh) if run.incremental else None
    after: list[datetime | None] = []
    move_watermark: Callable | None = None
    if run.incremental:
        move_watermark = lambda tx: after.append(advance(tx, table, run.target, manifest, run.context))  # noqa: E731
    keyed = run.incremental or table.write_mode in (
        "merge",
        "append",
    )  # append with a key: only keys not there yet
    request = LoadRequest(
        run.target,
        manifest,
        run.store,
        mode="full_refresh" if run.full_refresh else table.write_mode,
        cursor=table.cursor,
        run_id=run.run_id,
        keys=tuple(table.primary_key) if keyed else (),
        schema_policy=table.schema_policy,
        on_error=table.on_error,
        progress=Progress(f"{run.target} {manifest.partition}", "loaded", run.context.log.info, total=manifest.rows),
        before_commit=move_watermark,
    )
    result = run.warehouse.load(request)
    return Loaded(manifest, result, before, after[0] if after else None)


def load_metadata(table: TableConfig, loads: list[Loaded]) -> dict:
    """A warehouse materialization's metadata (of one day), summed over the staging runs it loaded (usually one)."""
    manifests = [x.manifest for x in loads]
    results = [x.result for x in loads if x.result is not None]
    rows, seconds = sum(r.rows_loaded for r in results), sum(r.seconds for r in results)
    metadata: dict = {
        "rows_loaded": rows,
        "rows_replaced": sum(r.rows_deleted for r in results),
        "files": sum(r.files for r in results),
        "files_skipped": sum(r.files_skipped for r in results),
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds, 1) if seconds > 0 else 0.0,
        "write_mode": table.write_mode,
        "stage_path": dg.MetadataValue.path(manifests[-1].prefix),
        "staging_run": ", ".join(m.run_id for m in manifests),
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(
                    f.name,
                    str(f.type),
                    description=(f.metadata or {}).get(SOURCE_TYPE_KEY, b"").decode(),
                )
                for f in manifests[-1].arrow_schema
            ]
        ),
    }
    if results:
        metadata["dagster/row_count"] = rows
    else:  # committed before this step was retried: the rows staged are the rows loaded
        metadata.update(
            {
                "dagster/row_count": manifests[-1].rows,
                "rows_loaded": manifests[-1].rows,
                "resumed": True,
            }
        )
    if manifests[-1].window:
        metadata["window"] = str(manifests[-1].window)
    if table.partitioning == "incremental":
        before, after = loads[0].before, loads[-1].after
        metadata["watermark_before"] = before.isoformat() if before else "none"
        metadata["watermark_after"] = after.isoformat() if after else "none"
    rejected = [o for r in results for o in r.files_rejected]
    metadata["files_rejected"] = len(rejected)
    if rejected:
        metadata["rejected_files"] = dg.MetadataValue.md(
            "| file | outcome | rows loaded | of | first error |\n|---|---|---:|---:|---|\n"
            + "\n".join(
                f"| `{o.file.uri.rsplit('/', 1)[-1]}` | {o.status} | {o.rows_loaded:,} | {o.file.rows:,} | "
                f"{(o.error or '').replace('|', '/')[:200]} |"
                for o in rejected
            )
        )
    changes = [c for r in results for c in r.schema_changes]
    if changes:
        metadata["schema_changes"] = "; ".join(changes)
    return metadata
