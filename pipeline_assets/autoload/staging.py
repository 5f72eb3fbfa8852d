"""Staging a batch of dropped files: each one converted on its own into normalized staged files, so a bad file
fails alone while the others go on to the load."""

import re
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa

from pipeline_assets.config.files import SOURCE_FILE, SOURCE_MODIFIED, FilesTableConfig
from pipeline_assets.core import layout
from pipeline_assets.core.errors import PipelineError, TransientError
from pipeline_assets.core.manifest import Manifest, SourceOutcome, StagedFile
from pipeline_assets.core.progress import Progress
from pipeline_assets.core.records import SourceFile
from pipeline_assets.core.store import StageStore
from pipeline_assets.sources.files import declared_schema, infer_schema, read_file
from pipeline_assets.stage.staging import StageSettings
from pipeline_assets.stage.writer import RollingWriter


@dataclass
class Batch:
    """The files a run converts, and what became of each (filled in by ``stage_files``)."""

    convert: list[SourceFile]
    outcomes: list[SourceOutcome] = field(default_factory=list)
    staged: list[StagedFile] = field(default_factory=list)


def stage_files(
    drops: StageStore,
    stage: StageStore,
    settings: StageSettings,
    config: FilesTableConfig,
    table_prefix: str,
    partition: str,
    run_id: str,
    batch: Batch,
    log: Callable[[str], None],
) -> pa.Schema | None:
    """Convert ``batch.convert`` into the stage (a folder for this run); return the run's schema (None if nothing was
    readable). The schema is the declared one, else the union of what the files hold: each file is downloaded once
    (the batch is bounded in bytes), its columns read first, then streamed into its own staged files."""
    folder = layout.run_prefix(table_prefix, partition, run_id, datetime.now(UTC))
    progress = Progress(f"{table_prefix} {partition}", "converted", log)
    with ExitStack() as copies:
        local: dict[str, Path] = {}
        schema, readable = declared_schema(config), []
        for file in batch.convert:
            try:
                local[file.key] = copies.enter_context(drops.local_copy(file.key))
                if declared_schema(config) is None:
                    found = infer_schema(local[file.key], config, file.uri)
                    schema = found if schema is None else _unify(schema, found, file)
                readable.append(file)
            except TransientError:
                raise
            except PipelineError as exc:
                batch.outcomes.append(outcome(file, "failed", error=str(exc)))
        if schema is not None:  # a column no file of the run has a value for is left out: a later run types it
            schema = pa.schema([f for f in schema if not pa.types.is_null(f.type)])
        for number, file in enumerate(readable):
            writer = RollingWriter(
                stage,
                schema,
                key_for=partial(_staged_key, folder, number, file.key, settings=settings),
                file_format=settings.file_format,
                compression=settings.compression,
                target_bytes=settings.target_bytes,
            )
            rows = 0
            try:
                for chunk in read_file(local[file.key], config, schema, file):
                    writer.write(chunk)
                    rows += chunk.num_rows
                    progress.advance(chunk.num_rows)
                written = writer.close()
            except TransientError:
                writer.abort()
                raise
            except PipelineError as exc:
                writer.abort()
                batch.outcomes.append(outcome(file, "failed", error=str(exc)))
                continue
            batch.staged += written
            batch.outcomes.append(outcome(file, "staged", rows=rows, staged=tuple(f.uri for f in written)))
    return schema


def write_manifest(
    stage: StageStore,
    settings: StageSettings,
    table_prefix: str,
    partition: str,
    run_id: str,
    schema: pa.Schema | None,
    batch: Batch,
) -> Manifest:
    """The run's manifest, written last as the commit marker beside its staged files."""
    staged = [o for o in batch.outcomes if o.staged]
    folder = staged and batch.staged[0].key.rsplit("/", 1)[0]
    folder = folder or layout.run_prefix(table_prefix, partition, run_id, datetime.now(UTC))
    manifest = Manifest(
        source=table_prefix.split("/")[0],
        table=table_prefix,
        partition=partition,
        run_id=run_id,
        format=settings.file_format,
        prefix=stage.uri(folder),
        files=tuple(batch.staged),
        arrow_schema=schema if schema is not None else pa.schema([]),
        sources=tuple(batch.outcomes),
    )
    stage.write_bytes(layout.manifest_key(folder), manifest.to_json().encode())
    return manifest


def outcome(file: SourceFile, status: str, **extra) -> SourceOutcome:
    return SourceOutcome(file.key, file.uri, file.etag, file.bytes, file.modified.isoformat(), status, **extra)


def _unify(schema: pa.Schema, found: pa.Schema, file: SourceFile) -> pa.Schema:
    try:
        unified = pa.unify_schemas([schema, found], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise PipelineError(
            f"{file.uri}: its columns do not fit the other files' ({str(exc).splitlines()[0]})"
        ) from None
    lineage = [f for f in unified if f.name in (SOURCE_FILE, SOURCE_MODIFIED)]
    return pa.schema([f for f in unified if f.name not in (SOURCE_FILE, SOURCE_MODIFIED)] + lineage)


def _staged_key(folder: str, number: int, key: str, part: int, settings: StageSettings) -> str:
    """``<folder>/<n>_<file name>_part<k>.<ext>``: each staged file says which dropped file it holds."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", key.rsplit("/", 1)[-1])
    return f"{folder}/{number:05d}_{name}_part{part:03d}.{settings.file_format}"
