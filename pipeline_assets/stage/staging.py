"""Staging one partition: the extracted stream into files and a manifest, by the table's path strategy."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow.compute as pc

from pipeline_assets.core import layout
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import Extract, Manifest, StagedFile
from pipeline_assets.core.progress import Progress
from pipeline_assets.core.store import StageStore
from pipeline_assets.stage.writer import RollingWriter


@dataclass(frozen=True)
class StageSettings:
    """How one table is staged (from ``StageConfig`` and the table's own overrides)."""

    file_format: str
    compression: str
    target_bytes: int
    path_strategy: str
    overwrite: bool


def write_partition(
    store: StageStore,
    settings: StageSettings,
    table_prefix: str,
    extract: Extract,
    run_id: str,
    log: Callable[[str], None] | None = None,
) -> tuple[Manifest, float]:
    """Write ``extract`` as files plus a manifest (last, the commit marker); return the manifest and the seconds.

    ``unique`` writes into a new run folder. ``fixed`` refuses a partition folder that holds files unless
    ``overwrite``, and then writes the new set beside it and swaps it in only once complete."""
    partition = extract.partition
    if settings.path_strategy == "unique":
        folder = write_folder = layout.run_prefix(table_prefix, partition, run_id, datetime.now(UTC))
    else:
        folder = layout.fixed_prefix(table_prefix, partition)
        previous = [o.key for o in store.objects(folder + "/")]
        if previous and not settings.overwrite:
            raise PipelineError(f"stage: files already exist in {store.uri(folder)}/ and overwrite is false")
        write_folder = layout.incoming_prefix(table_prefix, partition, run_id)
    progress = Progress(f"{table_prefix} {partition}", "extracted", log)
    files, cursor_max = _write_files(store, settings, table_prefix, extract, write_folder, progress)
    key_files = write_keys(store, settings, table_prefix, extract, write_folder) if extract.keys is not None else []
    if write_folder != folder:
        files = _swap_in(store, files, write_folder, folder, previous)
        key_files = _swap_in(store, key_files, write_folder, folder, [])
    highest = cursor_max.isoformat() if cursor_max is not None else None
    manifest = commit_manifest(
        store, folder, table_prefix, extract, run_id, settings.file_format, files, key_files, highest
    )
    return manifest, progress.seconds


def commit_manifest(
    store: StageStore,
    folder: str,
    table_prefix: str,
    extract: Extract,
    run_id: str,
    file_format: str,
    files: list[StagedFile],
    key_files: list[StagedFile],
    cursor_max: str | None,
) -> Manifest:
    """Write the manifest of ``extract``'s files in ``folder``: written last, it is the folder's commit marker."""
    manifest = Manifest(
        source=table_prefix.split("/")[0],
        table=table_prefix,
        partition=extract.partition,
        run_id=run_id,
        format=file_format,
        prefix=store.uri(folder),
        files=tuple(files),
        arrow_schema=extract.arrow_schema,
        window=extract.window,
        limit=extract.limit,
        cursor_max=cursor_max,
        key_files=tuple(key_files),
        keys_listed=extract.keys is not None,
    )
    store.write_bytes(layout.manifest_key(folder), manifest.to_json().encode())
    return manifest


def _write_files(
    store: StageStore,
    settings: StageSettings,
    table_prefix: str,
    extract: Extract,
    folder: str,
    progress: Progress,
) -> tuple[list[StagedFile], Any]:
    """Write the stream; return the files and the highest value of ``extract.cursor`` seen (None without one)."""
    writer = RollingWriter(
        store,
        extract.arrow_schema,
        key_for=lambda n: layout.file_key(folder, table_prefix, extract.partition, n, settings.file_format),
        file_format=settings.file_format,
        compression=settings.compression,
        target_bytes=settings.target_bytes,
    )
    highest = None
    try:
        for batch in extract.batches:
            writer.write(batch)
            progress.advance(batch.num_rows)
            if extract.cursor and batch.num_rows:
                value = pc.max(batch.column(extract.cursor)).as_py()
                highest = value if highest is None or (value is not None and value > highest) else highest
    except BaseException:
        writer.abort()
        raise
    finally:
        getattr(extract.batches, "close", lambda: None)()  # release the source cursor even when writing failed
    return writer.close(), highest


def write_keys(store, settings, table_prefix, extract, folder) -> list[StagedFile]:
    """Every primary key at the source, as ``_keys<n>`` files beside the data (Parquet: keys keep their types)."""
    writer = None
    try:
        for batch in extract.keys:
            if writer is None:
                writer = RollingWriter(
                    store,
                    batch.schema,
                    file_format="parquet",
                    compression=settings.compression,
                    key_for=lambda n: layout.file_key(
                        folder, table_prefix, extract.partition, n, "parquet", kind="keys"
                    ),
                    target_bytes=settings.target_bytes,
                )
            writer.write(batch)
    except BaseException:
        if writer:
            writer.abort()
        raise
    return writer.close() if writer else []


def _swap_in(
    store: StageStore, files: list[StagedFile], incoming: str, folder: str, previous: list[str]
) -> list[StagedFile]:
    """Move a complete new file set from ``incoming`` into ``folder``, then drop what is left of the old set."""
    moved = []
    for staged in files:
        key = f"{folder}/{staged.key.rsplit('/', 1)[-1]}"
        moved.append(StagedFile(key, store.uri(key), staged.rows, staged.bytes, store.copy(staged.key, key)))
    store.delete([f.key for f in files])
    kept = {f.key for f in moved} | {layout.manifest_key(folder)}
    store.delete([key for key in previous if key not in kept])
    return moved


def all_manifests(store: StageStore, table_prefix: str, partition: str) -> list[Manifest]:
    """Every complete staging run of the partition, oldest first."""
    objects = sorted(
        (
            obj
            for obj in store.objects(layout.partition_prefix(table_prefix, partition))
            if obj.key.endswith("/" + layout.MANIFEST_NAME)
        ),
        key=lambda m: (m.modified, m.key),
    )
    return [Manifest.from_json(store.read_bytes(obj.key).decode()) for obj in objects]


def latest_manifest(store: StageStore, table_prefix: str, partition: str, prefer_run: str | None = None) -> Manifest:
    """The manifest ``prefer_run`` wrote for this partition if any, else the most recently written one."""
    manifests = [
        obj
        for obj in store.objects(layout.partition_prefix(table_prefix, partition))
        if obj.key.endswith("/" + layout.MANIFEST_NAME)
    ]
    if not manifests:
        raise PipelineError(
            f"stage: nothing staged for {table_prefix} partition {partition}; materialize its stage asset first"
        )
    preferred = [m for m in manifests if prefer_run and m.key.rsplit("/", 2)[-2].endswith("_" + prefer_run)]
    chosen = max(preferred or manifests, key=lambda m: (m.modified, m.key))  # a retried step wrote a newer one
    return Manifest.from_json(store.read_bytes(chosen.key).decode())
