"""Reading a staged file back as a stream of record batches with the staged schema."""

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline_assets.core.errors import PipelineError, first_line
from pipeline_assets.core.schema import storage_type

# Small batches keep the loader's working set (and the warehouse driver's copy buffer) small; the reader's
# thread pool is not used: a load is bound by the warehouse, and on few cores the threads only add CPU and memory.
READ_BATCH_ROWS = 16_384


def open_staged(path: Path, file_format: str, schema: pa.Schema, uri: str) -> pa.RecordBatchReader:
    """A reader over one staged file that yields batches of ``schema`` without loading the whole file."""
    try:
        storage = pa.schema(pa.field(f.name, storage_type(f.type), f.nullable) for f in schema)
        if file_format == "parquet":
            parquet = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering would keep every row group read so far
            batches = parquet.iter_batches(batch_size=READ_BATCH_ROWS, use_threads=False)
            if not parquet.schema_arrow.equals(storage):  # written by another system (an unload): cast, safely
                batches = (_cast(b, storage, uri) for b in batches)
            return pa.RecordBatchReader.from_batches(schema, (_restore(b, schema) for b in batches))
        csv = pacsv.open_csv(path, convert_options=pacsv.ConvertOptions(column_types=storage, strings_can_be_null=True))
        return pa.RecordBatchReader.from_batches(schema, (_restore(b, schema) for b in csv))
    except (pa.ArrowInvalid, OSError) as exc:
        raise PipelineError(f"stage: {uri} is not a readable {file_format} file: {first_line(exc)}") from None


def _cast(batch: pa.RecordBatch, storage: pa.Schema, uri: str) -> pa.RecordBatch:
    if batch.schema.names != storage.names:
        raise PipelineError(f"stage: {uri} has columns {batch.schema.names}, expected {storage.names}")
    try:
        return batch.cast(storage)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise PipelineError(f"stage: {uri} does not fit the table's types: {first_line(exc)}") from None


def _restore(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    arrays = [
        pa.ExtensionArray.from_storage(f.type, a)
        if isinstance(f.type, pa.BaseExtensionType) and a.type != f.type
        else a
        for f, a in zip(schema, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
