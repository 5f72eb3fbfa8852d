"""What the ledger knows of a file: a staged file's record, and a version of a file another system dropped."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LedgerRecord:
    target_table: str
    file_uri: str
    etag: str
    bytes: int
    rows: int
    stage_table: str
    partition_key: str
    run_id: str
    staged_at: datetime | None
    loaded_at: datetime | None
    load_run_id: str | None
    status: str
    error: str | None
    updated_at: datetime
    rows_loaded: int | None = None


@dataclass(frozen=True)
class SourceFile:
    """One version of a dropped file, as listed."""

    key: str
    uri: str
    etag: str
    bytes: int
    modified: datetime
