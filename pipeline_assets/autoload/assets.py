"""A files table's two assets: the staged files (dropped files converted one by one) and the warehouse table
(the good ones loaded in one transaction that also marks each source file ``loaded`` in the ledger)."""

from dataclasses import replace
from datetime import datetime

import dagster as dg
from pydantic import Field

from pipeline_assets.assets.factory import RETRY_POLICY, TableAssets, warehouse_asset_args
from pipeline_assets.assets.failures import user_errors
from pipeline_assets.assets.io_manager import STAGE_PREFIX_KEY, Staged
from pipeline_assets.assets.partitions import backfill_policy, daily_partitions, run_days
from pipeline_assets.assets.per_day import for_each_day
from pipeline_assets.autoload.report import OUTCOME_TAG, load_outcomes, outcome_metadata, run_outcome
from pipeline_assets.autoload.selection import DONE, GIVEN_UP, LOAD, SKIP, batches, decide
from pipeline_assets.autoload.staging import Batch, outcome, stage_files, write_manifest
from pipeline_assets.config import ProjectConfig, TableConfig
from pipeline_assets.config.files import FilesTableConfig
from pipeline_assets.core.errors import PipelineError, TransientError
from pipeline_assets.core.manifest import Manifest, SourceOutcome
from pipeline_assets.core.progress import Progress
from pipeline_assets.core.records import SourceFile
from pipeline_assets.core.target import TargetTable
from pipeline_assets.sources.files import list_files
from pipeline_assets.stage.staging import StageSettings
from pipeline_assets.warehouses import LoadRequest, Transaction, Warehouse
from pipeline_assets.warehouses.source_ledger import PROCESSED, SourceLedger

SKIPPED_NOTE = "a new version of a file already processed; allow_overwrites is false"


class AutoloadConfig(dg.Config):
    """Launch-time options of a files table's staging run."""

    files: list[list[str]] = Field(
        default=[],
        description="[key, etag] pairs the discovery sensor chose; empty: the "
        "oldest files the ledger has not loaded, up to the table's per-run bounds",
    )
    limit: int | None = Field(default=None, gt=0, description="take at most this many files")


def build_files_assets(table: TableConfig, project: ProjectConfig) -> TableAssets:
    files, drops = project.files_source(table)
    target_conn = project.connections[table.target]
    partitions_def = daily_partitions(files.start_date) if files.start_date else None  # set with the key pattern
    prefix = project.stage_prefix(table)
    target = TargetTable(table.target_schema, table.target_name)

    def settings_of(stage):
        return StageSettings(
            file_format=stage.format,
            compression=stage.compression,
            target_bytes=stage.target_bytes,
            path_strategy="unique",
            overwrite=False,
        )

    @dg.asset(
        key=["stage", table.source, table.asset_name],
        group_name=table.group_name,
        description=f"Files matching `{files.pattern}` ({files.format}) dropped into {drops.url}"
        + (" whose key carries the partition's date" if partitions_def else "")
        + f", each converted into {project.stage.format} files in {project.stage.url}; "
        "a file that fails is marked failed in the ledger and retried by later runs "
        f"(up to {files.max_retries} times).",
        partitions_def=partitions_def,
        backfill_policy=backfill_policy(table.days_per_run) if partitions_def else None,
        io_manager_key="stage_io_manager",
        required_resource_keys={table.source, table.target, "stage"},
        kinds={"s3" if drops.url.startswith("s3://") else "file", files.format},
        metadata={STAGE_PREFIX_KEY: prefix, "source_pattern": f"{drops.url}/{files.pattern}"},
        pool=f"source_{table.source}",
        retry_policy=RETRY_POLICY,
    )
    def staged(context: dg.AssetExecutionContext, config: AutoloadConfig) -> Staged:
        with user_errors():
            drop_store = getattr(context.resources, table.source).store()
            warehouse = getattr(context.resources, table.target).warehouse()
            stage = context.resources.stage.store()
            settings = settings_of(context.resources.stage.config)

            def one_day(partition: str) -> tuple[Manifest, dict]:
                day = partition if partitions_def else None
                chosen, reported = _choose(drop_store, warehouse, files, target, day, config, context.log)
                batch = Batch(convert=[d.file for d in chosen if d.action == LOAD], outcomes=reported)
                batch.outcomes += [outcome(d.file, "skipped", error=SKIPPED_NOTE) for d in chosen if d.action == SKIP]
                schema = stage_files(
                    drop_store, stage, settings, files, prefix, partition, context.run.run_id, batch, context.log.info
                )
                _record(warehouse, table, target, prefix, partition, context.run.run_id, batch.outcomes)
                manifest = write_manifest(stage, settings, prefix, partition, context.run.run_id, schema, batch)
                if manifest.files:
                    warehouse.record_staged(target, manifest)
                failed = [o for o in batch.outcomes if o.status == "failed"]
                if batch.convert and len(failed) == len(batch.convert):
                    which = "the run's only file" if len(failed) == 1 else f"all {len(failed)} files, e.g. the first,"
                    raise PipelineError(f"{table.asset_name}: {which} failed: {failed[0].error}")
                return manifest, {
                    "dagster/row_count": manifest.rows,
                    "rows_extracted": manifest.rows,
                    "files": len(manifest.files),
                    "bytes": manifest.bytes,
                    "stage_path": dg.MetadataValue.path(manifest.prefix),
                    **outcome_metadata(batch.outcomes),
                }

            partitioned = partitions_def is not None
            return for_each_day(context, run_days(context, partitioned, table.asset_name), partitioned, one_day)

    @dg.asset(
        **warehouse_asset_args(
            table,
            project,
            staged,
            partitions_def,
            f"`{target}` in {target_conn.describe()}: {table.write_mode} of the rows of files dropped into "
            f"{drops.url}, each file version loaded once (ledger), the good files of a run in one transaction.",
        )
    )
    def loaded(context: dg.AssetExecutionContext, manifest: Staged) -> dg.MaterializeResult:
        with user_errors():
            warehouse = getattr(context.resources, table.target).warehouse()
            store = context.resources.stage.store()
            partitioned = partitions_def is not None
            for_each_day(
                context,
                run_days(context, partitioned, table.asset_name),
                partitioned,
                lambda day: (None, _load(context, warehouse, store, table, target, manifest[day])),
            )
        return dg.MaterializeResult()

    return TableAssets(table, staged, loaded, partitions_def)


def _choose(
    drop_store,
    warehouse: Warehouse,
    files: FilesTableConfig,
    target: TargetTable,
    partition: str | None,
    config: AutoloadConfig,
    log,
) -> tuple[list, list[SourceOutcome]]:
    """The files this run takes (the sensor's list, else the oldest the ledger has not loaded, bounded) and outcomes
    to report for requested files that need nothing (loaded meanwhile, out of retries)."""
    listed = [f for f in list_files(drop_store, files) if partition is None or files.partition_of(f.key) == partition]
    wanted = {(k, e) for k, e in config.files}
    if wanted:
        listed = [f for f in listed if (f.key, f.etag) in wanted]
        gone = wanted - {(f.key, f.etag) for f in listed}
        if gone:
            log.warning(
                f"{len(gone)} requested files are gone or changed since the sensor listed them, "
                f"e.g. {sorted(gone)[0][0]}"
            )
    with warehouse.ledger() as ledger:
        books = SourceLedger(ledger.tx)
        books.ensure()
        records = books.records(target, uris=[f.uri for f in listed])
    decisions = sorted(decide(listed, records, files), key=lambda d: (d.file.modified, d.file.key))
    reported = [
        outcome(d.file, "already loaded" if d.action == DONE else d.action)
        for d in decisions
        if wanted and d.action in (DONE, GIVEN_UP)
    ]
    chosen = [d for d in decisions if d.action in (LOAD, SKIP)]
    if not wanted:
        chosen = (batches(chosen, files.max_files_per_run, files.max_bytes_per_run) or [[]])[0]
    return chosen[: config.limit] if config.limit else chosen, reported


def _record(
    warehouse: Warehouse,
    table: TableConfig,
    target: TargetTable,
    prefix: str,
    partition: str,
    run_id: str,
    outcomes: list[SourceOutcome],
) -> None:
    """Note each converted, failed or skipped file in the ledger (loads mark theirs ``loaded`` with the rows)."""
    with warehouse.ledger() as ledger:
        books = SourceLedger(ledger.tx)
        books.ensure()
        warehouse.lock(ledger.tx, target)  # two runs noting the same new file would both insert it
        warehouse.lock_writes(ledger.tx, target)
        for o in outcomes:
            if o.status in ("staged", "failed", "skipped"):
                books.set(
                    target,
                    source_file(o),
                    o.status,
                    table=prefix,
                    partition=partition,
                    run_id=run_id,
                    rows=o.rows if o.status == "staged" else None,
                    error=o.error,
                    failed=o.status == "failed",
                )


def source_file(o: SourceOutcome) -> SourceFile:
    return SourceFile(o.key, o.uri, o.etag, o.bytes, datetime.fromisoformat(o.modified))


def _load(context, warehouse: Warehouse, store, table: TableConfig, target: TargetTable, manifest: Manifest) -> dict:
    """Load the staged files of the files the ledger does not list as loaded yet, and mark those loaded with them."""
    staged = [o for o in manifest.sources if o.status == "staged"]
    with warehouse.ledger() as ledger:
        books = SourceLedger(ledger.tx)
        books.ensure()
        done = {(r.uri, r.etag) for r in books.records(target, uris=[o.uri for o in staged]) if r.status in PROCESSED}
    todo = [o for o in staged if (o.uri, o.etag) not in done]
    result = None
    if todo and not any(o.staged for o in todo):  # only files without rows: nothing to copy, only the ledger to update
        with warehouse.ledger() as ledger:
            _mark_loaded(ledger.tx, target, manifest, todo, context.run.run_id)
    elif todo:
        keep = {uri for o in todo for uri in o.staged}
        part = replace(manifest, files=tuple(f for f in manifest.files if f.uri in keep), sources=tuple(todo))
        run_id = context.run.run_id
        try:
            request = LoadRequest(
                target,
                part,
                store,
                mode=table.write_mode,
                cursor=table.cursor,
                run_id=run_id,
                keys=tuple(table.primary_key) if table.write_mode == "merge" else (),
                schema_policy=table.schema_policy,
                on_error=table.on_error,
                progress=Progress(f"{target} {manifest.partition}", "loaded", context.log.info, total=part.rows),
                before_commit=lambda tx: _mark_loaded(tx, target, manifest, todo, run_id),
            )
            result = warehouse.load(request)
        except TransientError:
            raise
        except PipelineError as exc:
            with warehouse.ledger() as ledger:
                for o in todo:
                    SourceLedger(ledger.tx).set(
                        target,
                        source_file(o),
                        "failed",
                        table=manifest.table,
                        partition=manifest.partition,
                        run_id=manifest.run_id,
                        error=str(exc),
                        failed=True,
                    )
            context.instance.add_run_tags(context.run.run_id, {OUTCOME_TAG: "failed"})
            raise
    outcomes = load_outcomes(manifest.sources, done)
    state = run_outcome(outcomes)
    context.instance.add_run_tags(context.run.run_id, {OUTCOME_TAG: state})
    rows = result.rows_loaded if result else 0
    metadata = {
        "dagster/row_count": rows,
        "rows_loaded": rows,
        "rows_replaced": result.rows_deleted if result else 0,
        "outcome": state,
        "write_mode": table.write_mode,
        "staging_run": manifest.run_id,
        "stage_path": dg.MetadataValue.path(manifest.prefix),
        **outcome_metadata(outcomes),
    }
    if result and result.schema_changes:
        metadata["schema_changes"] = "; ".join(result.schema_changes)
    return metadata


def _mark_loaded(
    tx: Transaction, target: TargetTable, manifest: Manifest, todo: list[SourceOutcome], run_id: str
) -> None:
    """Inside the load's transaction (after its lock): refuse if another run loaded one of these files meanwhile,
    else mark them loaded, so the ledger and the rows commit together."""
    books = SourceLedger(tx)  # its columns were ensured before the load (a CREATE here would commit on Snowflake)
    raced = [
        r
        for r in books.records(target, uris=[o.uri for o in todo])
        if r.status in PROCESSED and (r.uri, r.etag) in {(o.uri, o.etag) for o in todo}
    ]
    if raced:
        raise TransientError(
            f"{raced[0].uri} was loaded by run {raced[0].load_run_id} while this run loaded it; "
            "rolled back, the retry leaves it out"
        )
    for o in todo:
        books.set(
            target,
            source_file(o),
            "loaded",
            table=manifest.table,
            partition=manifest.partition,
            run_id=manifest.run_id,
            rows=o.rows,
            load_run_id=run_id,
        )
