"""Schema evolution: bring a target table in line with the staged schema before anything is loaded.

A new source column is added (nullable, so old rows read NULL); a widening (int → bigint, a decimal gaining
precision, real → double) is applied; anything else stops the load with one line naming table.column."""

import re
from typing import TYPE_CHECKING

import pyarrow as pa

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.contract import SchemaPolicy
from pipeline_assets.warehouses.transaction import Tx

if TYPE_CHECKING:  # the warehouse base imports this module
    from pipeline_assets.warehouses.base import Warehouse

_DECIMAL = re.compile(r"^(numeric|decimal)\((\d+),(\d+)\)$", re.IGNORECASE)


def evolve(
    warehouse: "Warehouse[Tx]", tx: Tx, target: TargetTable, schema: pa.Schema, policy: SchemaPolicy, keys: list[str]
) -> list[str]:
    """Apply (or, under ``freeze``, refuse) the changes; return a description of each change made."""
    existing = {name: warehouse.canonical_type(kind) for name, kind in warehouse.describe(tx, target)}
    missing_keys = [k for k in keys if k not in schema.names]
    if missing_keys:
        raise PipelineError(
            f"{target}.{missing_keys[0]}: the primary-key column is gone from the source; stopped before loading"
        )
    changes: list[str] = []
    statements: list[str] = []
    for field in schema:
        wanted = warehouse.canonical_type(warehouse.column_type(field))
        have = existing.get(field.name)
        if have == wanted:
            continue
        if have is not None and not widens(warehouse.capabilities.widening, have, wanted):
            raise PipelineError(
                f"{target}.{field.name}: {have} → {wanted} would narrow or change the type; stopped before loading"
            )
        change = f"{field.name}: {'added ' + wanted if have is None else have + ' → ' + wanted}"
        if policy == "freeze":
            raise PipelineError(f"{target}.{change}, but schema_policy is freeze; stopped before loading")
        column = warehouse.quote(field.name)
        statements.append(
            f"ALTER TABLE {warehouse.qualified(target)} ADD COLUMN {column} {warehouse.column_type(field)}"
            if have is None
            else warehouse.alter_type_sql(target, field)
        )
        changes.append(change)
    for statement in statements:
        tx.execute(statement)
    return changes


def widens(ladders: tuple[tuple[str, ...], ...], have: str, wanted: str) -> bool:
    """Whether every value of type ``have`` fits ``wanted`` (``ladders``: ``Capabilities.widening``)."""
    old, new = _DECIMAL.match(have), _DECIMAL.match(wanted)
    if old and new:
        return int(new.group(3)) == int(old.group(3)) and int(new.group(2)) >= int(old.group(2))
    for ladder in ladders:
        if have in ladder and wanted in ladder:
            return ladder.index(wanted) > ladder.index(have)
    return False
