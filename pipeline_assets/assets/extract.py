"""What a staged asset does for one day (or for the whole table): read the source's rows of that window and
write them to the stage as files plus a manifest, recorded in the target's ledger."""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import dagster as dg

from pipeline_assets.assets.incremental import extraction_window, state_key
from pipeline_assets.assets.partitions import day_window
from pipeline_assets.config import StageConfig, TableConfig
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import Extract, Manifest, UnloadedFile
from pipeline_assets.core.representable import Guard
from pipeline_assets.core.schema import TableSchema
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.target import TargetTable
from pipeline_assets.sources import Source
from pipeline_assets.sources.base import UnloadingSource
from pipeline_assets.stage.staging import StageSettings, all_manifests, write_partition
from pipeline_assets.stage.unloaded import stage_unloaded
from pipeline_assets.warehouses import Warehouse
from pipeline_assets.warehouses.types import limits


@dataclass(frozen=True)
class Extraction:
    """Everything a table's staging run needs, opened once and shared by the days it covers."""

    table: TableConfig
    target: TargetTable
    prefix: str
    source: Source
    warehouse: Warehouse
    store: StageStore
    settings: StageSettings
    schema: TableSchema
    run_id: str
    limit: int | None
    full_refresh: bool
    log: Callable[[str], None]

    @property
    def incremental(self) -> bool:
        return self.table.partitioning == "incremental"


def preflight(stage: StageConfig, store: StageStore, log: dg.DagsterLogManager) -> None:
    """Check the bucket's public-access block and default encryption, as ``stage.preflight`` asks."""
    if stage.preflight == "off":
        return
    problems = store.security_problems()
    if problems and stage.preflight == "strict":
        raise PipelineError(
            f"stage: {stage.url} fails the strict preflight: {'; '.join(problems)}; nothing was written"
        )
    for problem in problems:
        log.warning(f"stage {stage.url}: {problem} (stage.preflight: strict refuses to stage here)")


def staged_by_run(run: Extraction, day: str) -> Manifest | None:
    """The manifest this very run already wrote for ``day`` (a retried step does not extract it again)."""
    mine = [m for m in all_manifests(run.store, run.prefix, day) if m.run_id == run.run_id]
    return mine[-1] if mine else None


def guarded(table: TableConfig, schema: TableSchema, warehouse: Warehouse) -> TableSchema:
    """``schema`` read under the table's ``on_unrepresentable`` policy for its target's limits."""
    guard = Guard(table.table, table.on_unrepresentable, limits(warehouse.config.kind), schema.primary_key)
    return replace(schema, guard=guard)


def stage_day(run: Extraction, day: str) -> tuple[Manifest, float, dict[str, int]]:
    """Extract ``day``'s rows (``full``: the whole table, or an incremental table's rows since its watermark) into
    files and a manifest of their own; record the files as ``staged`` in the ledger. Returns the manifest, seconds
    and the NULLs stored per column for values the target cannot hold."""
    table, source = run.table, run.source
    schema = guarded(table, run.schema, run.warehouse)
    window = (
        extraction_window(run.warehouse, table, run.target, run.full_refresh)
        if run.incremental
        else day_window(day, table)
    )
    keys = None
    if table.delete_missing:
        key_schema = TableSchema(table.table, tuple(run.schema.column(k) for k in table.primary_key))
        keys = source.read(table.table, key_schema, batch_size=table.batch_size)
    extract = Extract(
        day,
        schema.arrow_schema(),
        iter(()),
        window,
        run.limit,
        keys=keys,
        cursor=table.cursor if run.incremental else None,
    )
    started = time.monotonic()
    if isinstance(source, UnloadingSource):  # the files are written by the source; the asked-for maximum may lag
        if run.incremental:  # the rows, never lead them
            cursor = table.cursor_column
            maximum = [f"max({source.quote(cursor)})"]
            (highest,) = source.aggregate(table.table, run.schema, maximum, cursor=cursor, window=window)
            extract.cursor_max = highest.isoformat() if highest is not None else None

        def unload(folder: str, overwrite: bool) -> list[UnloadedFile]:
            return source.unload(
                table.table,
                run.schema,
                folder=folder,
                store=run.store,
                overwrite=overwrite,
                cursor=table.cursor,
                window=window,
                limit=run.limit,
            )

        manifest, _ = stage_unloaded(run.store, run.settings, run.prefix, extract, run.run_id, unload)
    else:
        extract.batches = source.read(
            table.table, schema, cursor=table.cursor, window=window, batch_size=table.batch_size, limit=run.limit
        )
        manifest, _ = write_partition(run.store, run.settings, run.prefix, extract, run.run_id, run.log)
    run.warehouse.record_staged(run.target, manifest)
    if run.incremental and window is not None:
        with run.warehouse.state() as state:
            state.record_extraction(state_key(table), str(run.target), "success", window.end)
    return manifest, time.monotonic() - started, dict(schema.guard.nulled) if schema.guard else {}


def stage_metadata(
    manifest: Manifest, seconds: float, nulled: dict[str, int]
) -> dict[str, dg.MetadataValue | int | float | str]:
    """A staged materialization's metadata: what one staging run wrote, and the values stored as NULL because the
    target cannot hold them (``on_unrepresentable: null``)."""
    metadata: dict[str, dg.MetadataValue | int | float | str] = {
        "dagster/row_count": manifest.rows,
        "rows_extracted": manifest.rows,
        "files": len(manifest.files),
        "bytes": manifest.bytes,
        "seconds": round(seconds, 3),
        "rows_per_second": round(manifest.rows / seconds, 1) if seconds > 0 else 0.0,
        "stage_path": dg.MetadataValue.path(manifest.prefix),
        "format": manifest.format,
        "staging_run": manifest.run_id,
        "staged_files": dg.MetadataValue.md(
            "| file | rows | bytes |\n|---|---:|---:|\n"
            + "\n".join(f"| `{f.uri.rsplit('/', 1)[-1]}` | {f.rows:,} | {f.bytes:,} |" for f in manifest.files)
        ),
    }
    if manifest.window:
        metadata["window"] = str(manifest.window)
    if manifest.limit is not None:
        metadata["limit"] = manifest.limit
    if nulled:
        metadata["unrepresentable_nulled"] = sum(nulled.values())
        metadata["unrepresentable_nulled_by_column"] = dg.MetadataValue.json(nulled)
    return metadata
