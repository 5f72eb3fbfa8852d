"""The IO manager that turns a staged asset's record-batch stream into files in the stage."""

import dagster as dg

from pipeline_assets.errors import PipelineError, user_errors
from pipeline_assets.resources import StageResource
from pipeline_assets.stage import layout
from pipeline_assets.stage.manifest import Extract, Manifest
from pipeline_assets.stage.staging import (
    StageSettings,
    latest_manifest,
    write_partition,
)
from pipeline_assets.stage.unloaded import stage_unloaded

# Definition metadata of a staged asset that tells this IO manager where and how to write.
STAGE_PREFIX_KEY = "stage_prefix"
PATH_STRATEGY_KEY = "path_strategy"
OVERWRITE_KEY = "overwrite"


class StageIOManager(dg.ConfigurableIOManager):
    """Writes each partition's record batches to the stage as Parquet (or CSV) files of about the target
    size, then a manifest listing them as the commit marker. Downstream assets receive that manifest
    (file URIs, row counts, schema), never the data itself."""

    stage: dg.ResourceDependency[StageResource]

    def handle_output(self, context: dg.OutputContext, obj: Extract) -> None:
        with user_errors():
            self._stage(context, obj)

    def _stage(self, context: dg.OutputContext, obj: Extract | Manifest) -> None:
        if isinstance(obj, Manifest):  # a files table's staged asset writes its files itself, one source file at a time
            return
        metadata = context.definition_metadata
        settings = StageSettings(
            file_format=self.stage.file_format, compression=self.stage.compression, target_bytes=self.stage.target_bytes,
            path_strategy=metadata[PATH_STRATEGY_KEY], overwrite=metadata[OVERWRITE_KEY],
        )  # fmt: skip
        store = self.stage.store()
        self._preflight(context, store)
        if obj.unload is not None:
            manifest, seconds = stage_unloaded(store, settings, metadata[STAGE_PREFIX_KEY], obj, context.run_id)
        else:
            manifest, seconds = write_partition(store, settings, metadata[STAGE_PREFIX_KEY], obj, context.run_id,
                                                context.log.info)  # fmt: skip
        if obj.on_staged:
            obj.on_staged(manifest)
        context.add_output_metadata(stage_metadata(manifest, seconds))

    def _preflight(self, context: dg.OutputContext, store) -> None:
        if self.stage.preflight == "off":
            return
        problems = store.security_problems()
        if problems and self.stage.preflight == "strict":
            raise PipelineError(f"stage: {self.stage.url} fails the strict preflight: {'; '.join(problems)}; nothing was written")
        for problem in problems:
            context.log.warning(f"stage {self.stage.url}: {problem} (stage.preflight: strict refuses to stage here)")

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
        "staged_files": dg.MetadataValue.md(
            "| file | rows | bytes |\n|---|---:|---:|\n"
            + "\n".join(f"| `{f.uri.rsplit('/', 1)[-1]}` | {f.rows:,} | {f.bytes:,} |" for f in manifest.files)
        ),
    }
    if manifest.window:
        metadata["window"] = str(manifest.window)
    if manifest.limit is not None:
        metadata["limit"] = manifest.limit
    return metadata
