"""Values a target cannot hold exactly: refused, stored as NULL or stored as text, per table (``on_unrepresentable``).

A ``Guard`` travels with a table's schema while its rows are read. It decides each column's staged type from the
target's ``Limits`` (a decimal wider than the target holds becomes text under ``text``, a narrower decimal
otherwise) and judges every value that would not arrive unchanged: a source value Arrow cannot carry (NaN in a
numeric, ``0000-00-00``, PostgreSQL's ``infinity`` timestamps), a decimal too wide for the target, a NUL in text
for a target whose text cannot hold it. Under ``fail`` the first such value stops the table with one line naming
table, column, row key and value; under ``null`` it is stored as NULL and counted; under ``text`` a column whose
type cannot be held is staged as its text form (a value that even text cannot carry still fails).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from pipeline_assets.core.errors import PipelineError

Policy = Literal["fail", "null", "text"]
# PostgreSQL's infinities as the ADBC driver hands them over: its sentinels shifted to the Unix epoch, wrapped
_INFINITE_US = {-9222425352054775809: "infinity", -9222425352054775808: "-infinity"}
_INFINITE_DAYS = {-2147472692: "infinity", -2147472691: "-infinity"}


@dataclass(frozen=True)
class Limits:
    """What a warehouse kind's columns hold: the most digits of a DECIMAL, whether its text can hold NUL."""

    warehouse: str
    decimal_digits: int = 76
    text_holds_nul: bool = True


@dataclass
class Guard:
    """The ``on_unrepresentable`` policy of one table read for one target; ``nulled`` counts NULLs stored per
    column under ``null``."""

    table: str
    policy: Policy = "fail"
    limits: Limits = Limits("any")
    keys: tuple[str, ...] = ()
    nulled: dict[str, int] = field(default_factory=dict)

    def staged_type(self, kind: pa.DataType, source_type: str) -> pa.DataType:
        """The type a column of Arrow type ``kind`` (``source_type`` in the source) is staged as for this target."""
        if pa.types.is_decimal(kind) and kind.precision > self.limits.decimal_digits:
            if self.policy == "text":
                return pa.string()
            digits = self.limits.decimal_digits
            return pa.decimal128(digits, min(kind.scale, digits))
        if self.policy == "text" and pa.types.is_decimal(kind) and source_type == "numeric":
            return pa.string()  # PostgreSQL's unconstrained numeric: NaN, Infinity and any number of digits
        return kind

    def refuse(self, column: str, value: object, why: str, where: str = "") -> PipelineError:
        """The one line that stops the table under ``fail`` (or a value even text cannot carry); ``where`` names the
        row by its key."""
        row = f" (row {where})" if where else ""
        hint = "set on_unrepresentable: null" + (" or text" if self.policy == "fail" else "")
        return PipelineError(f"{self.table}.{column}: {value!r}{row} {why}; {hint}")

    def judge(self, batch: pa.RecordBatch, column: int, bad: pa.Array, values: Sequence[object], why: str) -> pa.Array:
        """``batch``'s ``column`` with the rows where ``bad`` is true replaced by NULL (counted), or the refusal."""
        name = batch.schema.field(column).name
        count = pc.sum(bad).as_py() or 0
        if not count:
            return batch.column(column)
        if self.policy != "null":
            row = pc.index(bad, True).as_py()
            names = batch.schema.names
            where = ", ".join(f"{k}={batch.column(k)[row].as_py()!r}" for k in self.keys if k in names)
            raise self.refuse(name, values[row], why, where)
        self.nulled[name] = self.nulled.get(name, 0) + count
        return pc.if_else(bad, pa.scalar(None, batch.column(column).type), batch.column(column))

    def check(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` once every value the target cannot hold is refused or NULL."""
        arrays = []
        for index, array in enumerate(batch.columns):
            kind = array.type
            if pa.types.is_timestamp(kind) or pa.types.is_date32(kind):
                sentinels = _INFINITE_US if pa.types.is_timestamp(kind) else _INFINITE_DAYS
                raw = array.view(pa.int64() if pa.types.is_timestamp(kind) else pa.int32())
                bad = pc.is_in(raw, pa.array(list(sentinels), raw.type))
                shown = [sentinels.get(v) for v in raw.to_pylist()] if pc.any(bad).as_py() else []
                array = self.judge(batch, index, bad, shown, "cannot be carried exactly (an infinite date or time)")
            elif (pa.types.is_string(kind) or pa.types.is_large_string(kind)) and not self.limits.text_holds_nul:
                bad = pc.fill_null(pc.match_substring(array, "\x00"), False)
                array = self.judge(
                    batch, index, bad, array.to_pylist(), f"holds NUL, which {self.limits.warehouse} text cannot store"
                )
            arrays.append(array)
        return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def salvage(values: Sequence[object], kind: pa.DataType, guard: Guard, column: str) -> pa.Array:
    """``values`` (Python objects or one Arrow array's items) made into an array of ``kind`` one at a time: under
    ``null`` those that do not convert exactly become NULL and are counted, otherwise the first one is refused."""
    converted: list[object] = []
    for value in values:
        try:
            converted.append(_exactly(value, kind))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ArithmeticError):
            if guard.policy != "null":
                why = f"cannot be stored exactly as {kind} in {guard.limits.warehouse}"
                raise guard.refuse(column, value, why) from None
            guard.nulled[column] = guard.nulled.get(column, 0) + 1
            converted.append(None)
    return pa.array(converted, kind)


def _exactly(value: object, kind: pa.DataType) -> object:
    """``value`` as a Python value of ``kind``, or an error when it would change (decimal text is checked in Python:
    Arrow's cast wraps too many integer digits around)."""
    if value is None:
        return None
    if isinstance(value, str) and pa.types.is_decimal(kind):
        number = Decimal(value)
        if not number.is_finite() or number.adjusted() >= kind.precision - kind.scale:
            raise ArithmeticError(value)
        value = number
    return pa.array([value]).cast(kind)[0].as_py()
