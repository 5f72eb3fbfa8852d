"""Files other systems drop into an S3 prefix or a local folder: listing them, and reading one as a stream of
Arrow record batches conformed to the table's schema (the autoloader's source side).

Each file is read from a local copy (downloaded to disk, never into memory) in batches: Parquet by row groups,
CSV and JSON lines by blocks. A file that cannot be read raises a one-line PipelineError naming its URI."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from pipeline_assets.config.files import DECIMAL_TYPE, SOURCE_FILE, SOURCE_MODIFIED, FilesTableConfig
from pipeline_assets.core.errors import PipelineError, first_line
from pipeline_assets.core.records import SourceFile
from pipeline_assets.core.schema import conform, storage_type
from pipeline_assets.core.store import StageStore

READ_BATCH_ROWS = 65_536
_TYPES = {
    "string": pa.string(),
    "boolean": pa.bool_(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", "UTC"),
    "json": pa.json_(pa.string()),
}
LINEAGE = (pa.field(SOURCE_FILE, pa.string()), pa.field(SOURCE_MODIFIED, pa.timestamp("us", "UTC")))


def glob_regex(pattern: str) -> re.Pattern:
    """A glob as a regex on keys: ``*`` and ``?`` stay inside one folder, ``**/`` spans any number of folders."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def literal_prefix(pattern: str) -> str:
    """The folder part of ``pattern`` before its first wildcard: the only part of the bucket that is listed."""
    head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    return head.rsplit("/", 1)[0] + "/" if "/" in head else ""


def list_files(store: StageStore, files: FilesTableConfig) -> Iterator[SourceFile]:
    """Every object that matches the table's pattern, a listing page at a time (S3 lists in key order)."""
    matcher = glob_regex(files.pattern)
    for obj in store.objects(literal_prefix(files.pattern)):
        if matcher.match(obj.key):
            yield SourceFile(obj.key, store.uri(obj.key), obj.etag, obj.size, obj.modified)


def declared_schema(files: FilesTableConfig) -> pa.Schema | None:
    if files.columns is None:
        return None
    return pa.schema([pa.field(name, arrow_type(kind)) for name, kind in files.columns.items()] + list(LINEAGE))


def arrow_type(kind: str) -> pa.DataType:
    match = DECIMAL_TYPE.match(kind)
    return pa.decimal128(int(match.group(1)), int(match.group(2))) if match else _TYPES[kind]


def infer_schema(path: Path, files: FilesTableConfig, uri: str) -> pa.Schema:
    """The columns one file holds (Parquet: its footer; CSV and JSON lines: their first block), with the lineage
    columns."""
    with _readable(uri, files.format):
        reader = _open(path, files, None)
        fields = [
            pa.field(f.name, _plain(f.type)) for f in reader.schema if f.name not in (SOURCE_FILE, SOURCE_MODIFIED)
        ]
        getattr(reader, "close", lambda: None)()
    if not fields:
        raise PipelineError(f"{uri}: no columns found in this {files.format} file")
    return pa.schema(fields + list(LINEAGE))


def read_file(path: Path, files: FilesTableConfig, schema: pa.Schema, source: SourceFile) -> Iterator[pa.RecordBatch]:
    """Stream ``source`` (its local copy at ``path``) as batches of ``schema``: columns matched by name, a column the
    file lacks is NULL, and each row carries the file's URI and last-modified time."""
    with _readable(source.uri, files.format):
        reader = _open(path, files, schema)
        names = set(reader.schema.names)
        for batch in reader:
            if batch.num_rows == 0:
                continue
            arrays = []
            for field in schema:
                if field.name == SOURCE_FILE:
                    arrays.append(pa.array([source.uri] * batch.num_rows, pa.string()))
                elif field.name == SOURCE_MODIFIED:
                    arrays.append(pa.array([source.modified] * batch.num_rows, field.type))
                elif field.name in names:
                    arrays.append(
                        _as_json(batch.column(field.name)) if _is_json(field.type) else batch.column(field.name)
                    )
                else:
                    arrays.append(pa.nulls(batch.num_rows, storage_type(field.type)))
            yield conform(pa.RecordBatch.from_arrays(arrays, names=schema.names), schema, source.uri)


def _open(path: Path, files: FilesTableConfig, schema: pa.Schema | None):
    """A batch reader over the file; with ``schema``, text formats parse its columns with its types."""
    storage = {f.name: storage_type(f.type) for f in schema} if schema is not None else None
    if files.format == "parquet":
        parquet = pq.ParquetFile(path, pre_buffer=False)
        if schema is None:
            return pa.RecordBatchReader.from_batches(parquet.schema_arrow, iter(()))
        columns = [n for n in parquet.schema_arrow.names if n in (storage or {})]
        chosen = pa.schema([parquet.schema_arrow.field(n) for n in columns])
        return pa.RecordBatchReader.from_batches(
            chosen, parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=columns, use_threads=False)
        )
    if files.format == "csv":
        options = files.csv_options
        read = pacsv.ReadOptions(autogenerate_column_names=not options.header, use_threads=False)
        parse = pacsv.ParseOptions(
            delimiter=options.delimiter,
            quote_char=options.quote_char or False,
            escape_char=options.escape_char or False,
        )
        wanted = [n for n in storage or {} if n not in (SOURCE_FILE, SOURCE_MODIFIED)]
        convert = pacsv.ConvertOptions(
            column_types=storage or {},
            null_values=options.null_values,
            strings_can_be_null=True,
            include_columns=wanted,
            include_missing_columns=True,
        )
        return pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    # a JSON-typed column may hold any JSON value: it is read as whatever it is, and kept as JSON text
    json_typed = {f.name for f in schema if _is_json(f.type)} if schema is not None else set()
    explicit = {name: kind for name, kind in (storage or {}).items() if name not in json_typed}
    parse = pajson.ParseOptions(
        explicit_schema=pa.schema(explicit.items()) if storage else None,
        unexpected_field_behavior="ignore" if storage and explicit == storage else "infer",
    )
    return pajson.open_json(path, read_options=pajson.ReadOptions(use_threads=False), parse_options=parse)


def _plain(kind: pa.DataType) -> pa.DataType:
    """An inferred type as the table keeps it: dictionaries decoded, timestamps in microseconds, nested values as JSON
    (a column with no value yet stays null-typed: another file, or a later run, gives it its type)."""
    if pa.types.is_dictionary(kind):
        return _plain(kind.value_type)
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us", kind.tz)
    if pa.types.is_nested(kind):
        return pa.json_(pa.string())
    return kind


def _is_json(kind: pa.DataType) -> bool:
    return isinstance(kind, pa.BaseExtensionType) and kind.extension_name == "arrow.json"


def _as_json(array: pa.Array) -> pa.Array:
    """Any JSON value read from a file (an object, a list, a number) as JSON text."""
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) or _is_json(array.type):
        return array
    return pa.array([None if v is None else json.dumps(v, default=str) for v in array.to_pylist()], pa.string())


class _readable:
    """Turn Arrow's and the OS's read errors into one line naming the file."""

    def __init__(self, uri: str, file_format: str):
        self.uri, self.format = uri, file_format

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> Literal[False]:
        if isinstance(
            exc, pa.ArrowInvalid | pa.ArrowNotImplementedError | pa.ArrowTypeError | OSError | ValueError
        ) and not isinstance(exc, PipelineError):
            raise PipelineError(f"{self.uri}: not a readable {self.format} file: {first_line(exc)}") from None
        return False
