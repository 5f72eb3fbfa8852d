"""Copying staged files one by one through the client (PostgreSQL, DuckDB), and ``on_error: skip_file`` where a
file can be left out: undone alone inside a savepoint, or, without savepoints, read through before it is copied."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from pipeline_assets.core.errors import PipelineError, first_line, redact
from pipeline_assets.core.manifest import Manifest, StagedFile
from pipeline_assets.core.reader import open_staged
from pipeline_assets.core.transience import Phase, is_transient
from pipeline_assets.warehouses.contract import CopyJob
from pipeline_assets.warehouses.transaction import FileOutcome

CopyFile = Callable[[StagedFile, Path], int]  # one staged file, as a local path, into the job's table; its rows
Savepoint = Callable[[], AbstractContextManager[None]]


class _CannotSkip(PipelineError):
    """A file failed after rows of it may have been written, where nothing can undo just that file."""


def copy_one_by_one(
    job: CopyJob, copy_file: CopyFile, savepoint: Savepoint | None, secrets: list[str | None]
) -> list[FileOutcome]:
    """Each of the job's files through ``copy_file``, its row count checked; under ``skip_file`` a bad file becomes a
    ``skipped`` outcome (its error scrubbed of ``secrets``) and the others go on."""
    outcomes = []
    for staged in job.files:
        try:
            with job.store.local_copy(staged.key) as path:
                rows = _copy_one(job, copy_file, staged, path, savepoint)
        except Exception as exc:
            if job.on_error == "abort" or is_transient(exc, Phase.WORK) or isinstance(exc, _CannotSkip):
                raise
            outcomes.append(FileOutcome(staged, "skipped", 0, redact(first_line(exc), secrets)))
            continue
        outcomes.append(FileOutcome(staged, "loaded", rows))
        if job.progress:
            job.progress.advance(rows)
    return outcomes


def _copy_one(job: CopyJob, copy_file: CopyFile, staged: StagedFile, path: Path, savepoint: Savepoint | None) -> int:
    def copy() -> int:
        rows = copy_file(staged, path)
        if rows != staged.rows:
            raise PipelineError(f"{staged.uri}: copied {rows} rows but the manifest lists {staged.rows}")
        return rows

    if job.on_error == "abort":
        return copy()
    if savepoint is not None:
        with savepoint():
            return copy()
    read_through(path, job.manifest, staged)
    try:
        return copy()
    except Exception as exc:
        raise _CannotSkip(f"{staged.uri}: {first_line(exc)} (read fine, failed while copying; rolled back)") from None


def unreadable(job: CopyJob, secrets: list[str | None]) -> list[FileOutcome]:
    """``skip_file`` where nothing can undo one file's part of a COPY (Redshift): the job's files that fail to read
    through, as ``skipped`` outcomes (a file that reads but then fails in the COPY aborts the load)."""
    rejected = []
    for staged in job.files:
        try:
            with job.store.local_copy(staged.key) as path:
                read_through(path, job.manifest, staged)
        except Exception as exc:
            if is_transient(exc, Phase.WORK):
                raise
            rejected.append(FileOutcome(staged, "skipped", 0, redact(first_line(exc), secrets)))
    return rejected


def read_through(path: Path, manifest: Manifest, staged: StagedFile) -> None:
    """Read a staged file to its end as the table's types (streaming); raise if any of it does not decode or fit."""
    for _ in open_staged(path, manifest.format, manifest.arrow_schema, staged.uri):
        pass
