"""What the staged asset hands the stage (an Extract) and what the stage hands the warehouse (a Manifest)."""

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import NamedTuple

import pyarrow as pa

from pipeline_assets.core.schema import Window


@dataclass
class Extract:
    """A lazy stream of a partition's record batches, plus what the manifest records about them."""

    partition: str
    arrow_schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    window: Window | None = None
    limit: int | None = None
    cursor: str | None = None  # the column whose highest value the manifest records (the next watermark)
    keys: Iterator[pa.RecordBatch] | None = None  # every primary key at the source, for deleting what left it
    cursor_max: str | None = None  # of an unloaded partition: the highest cursor value, asked before unloading


class UnloadedFile(NamedTuple):
    """A file a source wrote into the stage itself, as the source reports it."""

    name: str  # within the folder it was unloaded into
    bytes: int
    rows: int


# Has the source write the partition's files into a folder (an s3:// URI), overwriting or not; returns what it wrote.
Unload = Callable[[str, bool], list[UnloadedFile]]


@dataclass(frozen=True)
class StagedFile:
    key: str
    uri: str
    rows: int
    bytes: int
    etag: str


@dataclass(frozen=True)
class SourceOutcome:
    """What a staging run of a files table did with one dropped file: ``staged`` (its rows are in ``staged``, the
    staged files' URIs), ``failed`` (``error`` says why), ``skipped`` (a changed file, overwrites not allowed) or
    ``already loaded``."""

    key: str
    uri: str
    etag: str
    bytes: int
    modified: str  # ISO last-modified time
    status: str
    rows: int = 0
    staged: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Manifest:
    """The commit marker of one staging run: every file it wrote, with counts and the Arrow schema."""

    source: str
    table: str
    partition: str
    run_id: str
    format: str
    prefix: str
    files: tuple[StagedFile, ...]
    arrow_schema: pa.Schema
    window: Window | None = None
    limit: int | None = None
    cursor_max: str | None = None  # ISO form of the highest cursor value staged
    key_files: tuple[StagedFile, ...] = ()  # every source key, when ``keys_listed`` (delete_missing)
    keys_listed: bool = False
    sources: tuple[SourceOutcome, ...] = ()  # a files table's dropped files and what became of each
    created_at: str = field(default_factory=lambda: datetime.now().astimezone().isoformat())

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    @property
    def all_files(self) -> tuple[StagedFile, ...]:
        return self.files + self.key_files

    def to_json(self) -> str:
        body = {
            "version": 1,
            **{
                k: getattr(self, k)
                for k in (
                    "source",
                    "table",
                    "partition",
                    "run_id",
                    "format",
                    "prefix",
                    "limit",
                    "cursor_max",
                    "created_at",
                )
            },
            "window": [self.window.start.isoformat(), self.window.end.isoformat()] if self.window else None,
            "window_nulls": bool(self.window and self.window.nulls),
            "rows": self.rows,
            "bytes": self.bytes,
            "files": [asdict(f) for f in self.files],
            "key_files": [asdict(f) for f in self.key_files],
            "keys_listed": self.keys_listed,
            "sources": [asdict(o) for o in self.sources],
            "columns": [{"name": f.name, "type": str(f.type)} for f in self.arrow_schema],
            "arrow_schema": base64.b64encode(self.arrow_schema.serialize().to_pybytes()).decode(),
        }
        return json.dumps(body, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        body = json.loads(text)
        window = body["window"]
        return cls(
            source=body["source"],
            table=body["table"],
            partition=body["partition"],
            run_id=body["run_id"],
            format=body["format"],
            prefix=body["prefix"],
            limit=body["limit"],
            created_at=body["created_at"],
            cursor_max=body.get("cursor_max"),
            files=tuple(StagedFile(**f) for f in body["files"]),
            key_files=tuple(StagedFile(**f) for f in body.get("key_files", [])),
            keys_listed=body.get("keys_listed", False),
            sources=tuple(SourceOutcome(**{**o, "staged": tuple(o["staged"])}) for o in body.get("sources", [])),
            arrow_schema=pa.ipc.read_schema(pa.py_buffer(base64.b64decode(body["arrow_schema"]))),
            window=Window(
                datetime.fromisoformat(window[0]), datetime.fromisoformat(window[1]), body.get("window_nulls", False)
            )
            if window
            else None,
        )
