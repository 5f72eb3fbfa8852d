"""Writing record batches into staged files, starting a new file once one reaches the target size."""

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.core.schema import storage_type
from pipeline_assets.core.store import StageStore


class RollingWriter:
    """Streams batches into ``<key_for(n)>`` files of about ``target_bytes`` each; nothing is held in memory
    beyond the batch being written. Each file is published (made visible) only when complete."""

    def __init__(
        self,
        store: StageStore,
        schema: pa.Schema,
        key_for: Callable[[int], str],
        file_format: str,
        compression: str,
        target_bytes: int,
    ):
        self.store, self.key_for, self.format = store, key_for, file_format
        self.compression, self.target_bytes = compression, target_bytes
        self.schema = _csv_schema(schema) if file_format == "csv" else schema
        self.files: list[StagedFile] = []
        self._key = ""
        self._spool = Path()
        self._sink: pa.NativeFile | None = None
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
        self._rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self.format == "csv":
            batch = pa.RecordBatch.from_arrays([_csv_array(c) for c in batch.columns], schema=self.schema)
        # A driver's batch may be larger than a file should be: write it in slices of about a quarter of the
        # target (uncompressed), checking the file's size after each, so files end near the target size.
        step = max(1, int(batch.num_rows * self.target_bytes / 4 / max(batch.nbytes, 1)))
        for offset in range(0, batch.num_rows, step):
            self._write_slice(batch.slice(offset, step))

    def _write_slice(self, batch: pa.RecordBatch) -> None:
        writer, sink = (self._writer, self._sink) if self._writer and self._sink else self._open()
        writer.write_batch(batch)
        self._rows += batch.num_rows
        if sink.tell() >= self.target_bytes:
            self._seal()

    def close(self) -> list[StagedFile]:
        if self._writer is not None:
            self._seal()
        return self.files

    def abort(self) -> None:
        """Drop the file being written; files already published stay for the orphan finder."""
        if self._writer is not None and self._sink is not None:
            self._writer.close()
            self._sink.close()
            self.store.discard(self._spool)
            self._writer = self._sink = None

    def _open(self) -> tuple[pq.ParquetWriter | pacsv.CSVWriter, pa.NativeFile]:
        self._key = self.key_for(len(self.files))
        self._spool = self.store.spool_path(self._key)
        sink = pa.OSFile(str(self._spool), "wb")
        if self.format == "parquet":
            compression = None if self.compression == "none" else self.compression
            writer = pq.ParquetWriter(sink, self.schema, compression=compression, use_dictionary=False)
        else:
            writer = pacsv.CSVWriter(sink, self.schema)
        self._writer, self._sink, self._rows = writer, sink, 0
        return writer, sink

    def _seal(self) -> None:
        if self._writer is None or self._sink is None:
            return
        self._writer.close()
        size = self._sink.tell()
        self._sink.close()
        etag = self.store.publish(self._spool, self._key)
        self.files.append(StagedFile(self._key, self.store.uri(self._key), self._rows, size, etag))
        self._writer = self._sink = None


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    for field in schema:
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            raise PipelineError(f"column {field.name!r} is binary, which CSV cannot carry faithfully; stage as parquet")
    return pa.schema(pa.field(f.name, storage_type(f.type), f.nullable, f.metadata) for f in schema)


def _csv_array(array: pa.Array) -> pa.Array:
    return array.storage if isinstance(array, pa.ExtensionArray) else array
