"""What a replicated table looks like in flight: its columns as Arrow types, and a partition's window."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.representable import Guard, salvage

SOURCE_TYPE_KEY = b"pipeline_assets.source_type"


@dataclass(frozen=True)
class Column:
    name: str
    source_type: str
    arrow_type: pa.DataType
    nullable: bool = True


@dataclass(frozen=True)
class TableSchema:
    """A source table's columns as discovered from its catalog; ``guard``, when set, is the target's
    ``on_unrepresentable`` policy its rows are read under (it also decides the staged types)."""

    table: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    guard: Guard | None = None

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise PipelineError(
            f"{self.table}: unknown column {name!r} (columns: {', '.join(c.name for c in self.columns)})"
        )

    def arrow_schema(self) -> pa.Schema:
        guard = self.guard
        return pa.schema(
            pa.field(
                c.name,
                guard.staged_type(c.arrow_type, c.source_type) if guard else c.arrow_type,
                c.nullable,
                metadata={SOURCE_TYPE_KEY: c.source_type.encode()},
            )
            for c in self.columns
        )


@dataclass(frozen=True)
class Window:
    """The half-open interval [start, end) of cursor values that one partition holds, in UTC; with ``nulls`` also
    the rows whose cursor is NULL (a table's first partition, or every watermark run, under ``null_cursor: include``).
    """

    start: datetime
    end: datetime
    nulls: bool = False

    @classmethod
    def for_day(cls, day: date) -> "Window":
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return cls(start, start + timedelta(days=1))

    def bounds_for(self, kind: pa.DataType, label: str) -> tuple[object, object]:
        """The window's bounds as values comparable with a cursor of type ``kind``: aware or naive UTC
        timestamps, or dates. ``label`` (table.column) names the culprit when the type cannot hold a window."""
        if pa.types.is_timestamp(kind):
            if kind.tz:
                return self.start, self.end
            return (
                self.start.astimezone(UTC).replace(tzinfo=None),
                self.end.astimezone(UTC).replace(tzinfo=None),
            )
        if pa.types.is_date(kind):
            return self.start.astimezone(UTC).date(), self.end.astimezone(UTC).date()
        raise PipelineError(f"{label}: cursor column is {kind}; daily partitions need a date or timestamp column")

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})" + (" and NULL" if self.nulls else "")


def conform(batch: pa.RecordBatch, schema: pa.Schema, table: str, guard: Guard | None = None) -> pa.RecordBatch:
    """Cast a batch as a driver returned it to the table's Arrow schema, naming the column that will not fit; with a
    ``guard``, values that will not convert exactly, or that its target cannot hold, go by its policy."""
    arrays = []
    for field, array in zip(schema, batch.columns, strict=True):
        try:
            arrays.append(_conform_array(array, field, table))
        except PipelineError:
            if guard is None or isinstance(field.type, pa.BaseExtensionType) or pa.types.is_boolean(field.type):
                raise
            arrays.append(salvage(array.to_pylist(), field.type, guard, field.name))
    conformed = pa.RecordBatch.from_arrays(arrays, schema=schema)
    return guard.check(conformed) if guard else conformed


def _conform_array(array: pa.Array, field: pa.Field, table: str) -> pa.Array:
    target = field.type
    if array.type == target:
        return array
    try:
        if isinstance(target, pa.BaseExtensionType):
            storage = array if array.type == target.storage_type else array.cast(target.storage_type)
            return pa.ExtensionArray.from_storage(target, storage)
        if pa.types.is_boolean(target) and pa.types.is_integer(array.type):
            low, high = pc.min_max(array).values()
            if (low.is_valid and low.as_py() < 0) or (high.is_valid and high.as_py() > 1):
                raise PipelineError(
                    f"{table}.{field.name}: a boolean (tinyint(1)) column holds {high.as_py()}; "
                    "declare it TINYINT or SMALLINT"
                )
        if pa.types.is_decimal(target) and pa.types.is_string(array.type):
            _integer_digits_fit(array, target, f"{table}.{field.name}")
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise PipelineError(f"{table}.{field.name}: value does not fit {target}: {str(exc).splitlines()[0]}") from None


def _integer_digits_fit(array: pa.Array, target: pa.DataType, label: str) -> None:
    """Refuse decimal text with more integer digits than ``target`` holds (Arrow's cast wraps those around)."""
    digits = target.precision - target.scale
    if pc.any(pc.match_substring_regex(array, rf"^[+-]?0*[1-9][0-9]{{{digits}}}")).as_py():
        raise PipelineError(f"{label}: a value has more than {digits} integer digits for {target}")


def storage_type(kind: pa.DataType) -> pa.DataType:
    """The plain type under an extension type (JSON is text on disk in CSV)."""
    return kind.storage_type if isinstance(kind, pa.BaseExtensionType) else kind
