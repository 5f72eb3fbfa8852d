"""Copying staged files one by one through the client (PostgreSQL, DuckDB), and ``on_error: skip_file`` where a
file can be left out: undone alone inside a savepoint, or, without savepoints, read through before it is copied."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from pipeline_assets.core.errors import PipelineError, first_line, is_transient, redact
from pipeline_assets.core.manifest import Manifest, StagedFile
from pipeline_assets.core.progress import Progress
from pipeline_assets.core.reader import open_staged
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.transaction import ClientCopyTransaction, FileOutcome


class _CannotSkip(PipelineError):
    """A file failed after rows of it may have been written, where nothing can undo just that file."""


def copy_one_by_one(
    tx: ClientCopyTransaction,
    target: TargetTable,
    manifest: Manifest,
    files: list[StagedFile],
    store: StageStore,
    progress: Progress | None,
    on_error: str,
    savepoint: Callable[[], AbstractContextManager] | None,
    secrets: list[str | None],
) -> list[FileOutcome]:
    """Each file through ``tx.copy_file``, its row count checked; under ``skip_file`` a bad file becomes a
    ``skipped`` outcome (its error scrubbed of ``secrets``) and the others go on."""
    outcomes = []
    for staged in files:
        try:
            with store.local_copy(staged.key) as path:
                rows = _copy_one(tx, target, manifest, staged, path, on_error, savepoint)
        except Exception as exc:
            if on_error == "abort" or is_transient(exc) or isinstance(exc, _CannotSkip):
                raise
            outcomes.append(FileOutcome(staged, "skipped", 0, redact(first_line(exc), secrets)))
            continue
        outcomes.append(FileOutcome(staged, "loaded", rows))
        if progress:
            progress.advance(rows)
    return outcomes


def _copy_one(
    tx: ClientCopyTransaction,
    target: TargetTable,
    manifest: Manifest,
    staged: StagedFile,
    path: Path,
    on_error: str,
    savepoint: Callable[[], AbstractContextManager] | None,
) -> int:
    def copy() -> int:
        rows = tx.copy_file(target, path, manifest.format, manifest.arrow_schema, staged.uri)
        if rows != staged.rows:
            raise PipelineError(f"{staged.uri}: copied {rows} rows but the manifest lists {staged.rows}")
        return rows

    if on_error == "abort":
        return copy()
    if savepoint is not None:
        with savepoint():
            return copy()
    read_through(path, manifest, staged)
    try:
        return copy()
    except Exception as exc:
        raise _CannotSkip(f"{staged.uri}: {first_line(exc)} (read fine, failed while copying; rolled back)") from None


def unreadable(
    files: list[StagedFile], manifest: Manifest, store: StageStore, secrets: list[str | None]
) -> list[FileOutcome]:
    """``skip_file`` where nothing can undo one file's part of a COPY (Redshift): the files that fail to read
    through, as ``skipped`` outcomes (a file that reads but then fails in the COPY aborts the load)."""
    rejected = []
    for staged in files:
        try:
            with store.local_copy(staged.key) as path:
                read_through(path, manifest, staged)
        except Exception as exc:
            if is_transient(exc):
                raise
            rejected.append(FileOutcome(staged, "skipped", 0, redact(first_line(exc), secrets)))
    return rejected


def read_through(path: Path, manifest: Manifest, staged: StagedFile) -> None:
    """Read a staged file to its end as the table's types (streaming); raise if any of it does not decode or fit."""
    for _ in open_staged(path, manifest.format, manifest.arrow_schema, staged.uri):
        pass
