"""Staging a partition that the source wrote into the stage itself (Snowflake's unload): the files are
already there; what remains is to find them, record their ETags, and commit them with a manifest."""

import time
from datetime import UTC, datetime

from pipeline_assets.core import layout
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import Extract, Manifest, StagedFile, Unload
from pipeline_assets.core.store import StageStore
from pipeline_assets.stage.staging import StageSettings, commit_manifest, write_keys


def stage_unloaded(
    store: StageStore, settings: StageSettings, table_prefix: str, extract: Extract, run_id: str, unload: Unload
) -> tuple[Manifest, float]:
    """Have the source unload ``extract``'s partition into its folder, then write the manifest of exactly the files
    it reported. ``unique`` unloads into a new run folder; ``fixed`` into the partition's folder, which must be empty
    unless ``overwrite`` (then same-named files are replaced and older ones the unload did not write are deleted)."""
    started = time.monotonic()
    if settings.path_strategy == "unique":
        folder, replace = layout.run_prefix(table_prefix, extract.partition, run_id, datetime.now(UTC)), False
    else:
        folder, replace = layout.fixed_prefix(table_prefix, extract.partition), settings.overwrite
        if not replace and any(True for _ in store.objects(folder + "/")):
            raise PipelineError(f"stage: files already exist in {store.uri(folder)}/ and overwrite is false")
        # the old manifest lists names the unload is about to overwrite: without it, a half-done unload is never loaded
        store.delete([layout.manifest_key(folder)])
    reported = unload(store.uri(folder), replace)
    present = {o.key: o for o in store.objects(folder + "/")}
    files = []
    for name, _size, rows in reported:
        key = f"{folder}/{name}"
        if key not in present:
            raise PipelineError(f"stage: the unload reported {store.uri(key)}, which is not in the stage")
        files.append(StagedFile(key, store.uri(key), rows, present[key].size, present[key].etag))
    written = {f.key for f in files}
    store.delete([key for key in present if key not in written])  # an earlier unload's files, or a manifest
    key_files = write_keys(store, settings, table_prefix, extract, folder) if extract.keys is not None else []
    manifest = commit_manifest(
        store, folder, table_prefix, extract, run_id, "parquet", files, key_files, extract.cursor_max
    )
    return manifest, time.monotonic() - started
