"""The IO manager that turns a staged asset's record-batch stream into files in the stage."""

from datetime import datetime, timezone

import dagster as dg

from pipeline_assets.errors import PipelineError, user_errors
from pipeline_assets.progress import Progress
from pipeline_assets.resources import StageResource
from pipeline_assets.stage import layout
from pipeline_assets.stage.manifest import Extract, Manifest
from pipeline_assets.stage.stores import StageStore
from pipeline_assets.stage.writer import RollingWriter

STAGE_PREFIX_KEY = "stage_prefix"


class StageIOManager(dg.ConfigurableIOManager):
    """Writes each partition's record batches to the stage as Parquet (or CSV) files of about the target
    size, then a manifest listing them as the commit marker. Downstream assets receive that manifest
    (file URIs, row counts, schema), never the data itself."""

    stage: dg.ResourceDependency[StageResource]

    def handle_output(self, context: dg.OutputContext, obj: Extract) -> None:
        with user_errors():
            self._stage(context, obj)

    def _stage(self, context: dg.OutputContext, obj: Extract) -> None:
        store = self.stage.store()
        table_prefix = context.definition_metadata[STAGE_PREFIX_KEY]
        started = datetime.now(timezone.utc)
        run_prefix = layout.run_prefix(table_prefix, obj.partition, context.run_id, started)
        extension = self.stage.file_format
        writer = RollingWriter(
            store, obj.arrow_schema,
            key_for=lambda n: layout.file_key(run_prefix, table_prefix, obj.partition, n, extension),
            file_format=self.stage.file_format, compression=self.stage.compression, target_bytes=self.stage.target_bytes,
        )  # fmt: skip
        progress = Progress(f"{table_prefix} {obj.partition}", "extracted", context.log.info)
        try:
            for batch in obj.batches:
                writer.write(batch)
                progress.advance(batch.num_rows)
        except BaseException:
            writer.abort()
            raise
        finally:
            getattr(obj.batches, "close", lambda: None)()  # release the source cursor even when writing failed
        manifest = Manifest(
            source=table_prefix.split("/")[0], table=table_prefix, partition=obj.partition, run_id=context.run_id,
            format=self.stage.file_format, prefix=store.uri(run_prefix), files=tuple(writer.close()),
            arrow_schema=obj.arrow_schema, window=obj.window, limit=obj.limit,
        )  # fmt: skip
        store.write_bytes(layout.manifest_key(run_prefix), manifest.to_json().encode())
        context.add_output_metadata(stage_metadata(manifest, progress.seconds))

    def load_input(self, context: dg.InputContext) -> Manifest:
        with user_errors():
            return self._manifest(context)

    def _manifest(self, context: dg.InputContext) -> Manifest:
        if context.has_partition_key and len(context.asset_partition_keys) > 1:
            raise PipelineError("load one partition per run (the assets use a multi-run backfill policy)")
        table_prefix = context.upstream_output.definition_metadata[STAGE_PREFIX_KEY]
        partition = context.partition_key if context.has_partition_key else layout.UNPARTITIONED
        try:
            producing_run = context.upstream_output.run_id
        except dg.DagsterInvariantViolationError:  # staged by an earlier run: take the latest complete one
            producing_run = None
        return latest_manifest(self.stage.store(), table_prefix, partition, prefer_run=producing_run)


def latest_manifest(store: StageStore, table_prefix: str, partition: str, prefer_run: str | None = None) -> Manifest:
    """The manifest of ``prefer_run`` if it staged this partition, else the most recent complete staging run."""
    keys = sorted(
        obj.key for obj in store.list(layout.partition_prefix(table_prefix, partition))
        if obj.key.endswith("/" + layout.MANIFEST_NAME)
    )  # fmt: skip
    if not keys:
        raise PipelineError(f"stage: nothing staged for {table_prefix} partition {partition}; materialize its stage asset first")
    chosen = next((k for k in keys if prefer_run and k.rsplit("/", 2)[-2].endswith("_" + prefer_run)), keys[-1])
    return Manifest.from_json(store.read_bytes(chosen).decode())


def stage_metadata(manifest: Manifest, seconds: float) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue | int | float | str] = {
        "dagster/row_count": manifest.rows,
        "rows_extracted": manifest.rows,
        "files": len(manifest.files),
        "bytes": manifest.bytes,
        "seconds": round(seconds, 3),
        "rows_per_second": round(manifest.rows / seconds, 1) if seconds > 0 else 0.0,
        "stage_path": dg.MetadataValue.path(manifest.prefix),
        "format": manifest.format,
    }
    if manifest.window:
        metadata["window"] = str(manifest.window)
    if manifest.limit is not None:
        metadata["limit"] = manifest.limit
    return metadata
