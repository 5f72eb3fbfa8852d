"""Asset checks that prove a warehouse table agrees with its source, partition by partition.

Never report success from a log line: count (and sum) the rows in both databases and compare."""

import time
from decimal import Decimal, InvalidOperation, localcontext

import dagster as dg
import pyarrow as pa
from dagster._core.definitions.asset_checks.asset_check_evaluation import (  # not exported; what the UI compares with
    AssetCheckEvaluationTargetMaterializationData,
)

from pipeline_assets.assets.extract import guarded
from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.assets.failures import user_errors
from pipeline_assets.assets.incremental import checked_window
from pipeline_assets.assets.partitions import day_window, run_days
from pipeline_assets.assets.total_check import build_total_check
from pipeline_assets.config import ProjectConfig
from pipeline_assets.core.schema import TableSchema, Window
from pipeline_assets.core.target import TargetTable

ROWS, CHECKSUM, DUPLICATES, SCHEMA, FRESH = (
    "rows_match_source",
    "checksum_matches_source",
    "no_duplicate_keys",
    "schema_matches_source",
    "fresh",
)
PARTITION_CHECKS = (ROWS, CHECKSUM, DUPLICATES, SCHEMA)
DESCRIPTIONS = {
    ROWS: "The partition holds as many rows in the warehouse as in the source (a source that grew after the load is "
    "reported as drift: late data).",
    CHECKSUM: "The sums of the key and of a numeric column agree between source and warehouse (count only when the "
    "table has neither).",
    DUPLICATES: "No primary-key value appears twice in the partition.",
    SCHEMA: "Every source column exists in the warehouse table with the type a load would give it.",
    FRESH: "The table was loaded successfully within its expected interval.",
}


def build_table_checks(assets: TableAssets, project: ProjectConfig) -> list[dg.AssetChecksDefinition]:
    table = assets.table
    target = TargetTable(table.target_schema, table.target_name)
    specs = [
        dg.AssetCheckSpec(
            name,
            asset=assets.loaded.key,
            description=DESCRIPTIONS[name],
            partitions_def=assets.partitions_def,
            blocking=name in (ROWS, DUPLICATES),
        )
        for name in PARTITION_CHECKS
        if name != DUPLICATES or table.primary_key
    ]

    @dg.multi_asset_check(
        specs=specs,
        name=f"{assets.loaded.op.name}__checks",
        can_subset=True,
        required_resource_keys={table.source, table.target},
        pool=f"warehouse_{table.target}",
    )
    def compare(context: dg.AssetCheckExecutionContext):
        with user_errors():
            source = getattr(context.resources, table.source).source()
            warehouse = getattr(context.resources, table.target).warehouse()
            schema = guarded(table, source.discover(table.table), warehouse)
            selected = {key.name for key in context.selected_asset_check_keys}
            partitioned = assets.partitions_def is not None
            for day in run_days(context, partitioned, table.asset_name):
                window = (
                    checked_window(warehouse, table, target)
                    if table.partitioning == "incremental"
                    else day_window(day, table)
                )
                results = _compare_window(assets, source, warehouse, schema, window, selected)
                if partitioned:
                    target_data = _latest_materialization(context, assets.loaded.key, day)
                    yield from (_for_partition(context, r, day, target_data) for r in results)
                else:
                    yield from results

    freshness_hours = 26 if assets.partitions_def else 25

    @dg.asset_check(asset=assets.loaded.key, name=FRESH, description=DESCRIPTIONS[FRESH] + f" ({freshness_hours} h)")
    def fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        event = context.instance.get_latest_materialization_event(assets.loaded.key)
        age_hours = (time.time() - event.timestamp) / 3600 if event else None
        passed = age_hours is not None and age_hours <= freshness_hours
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "hours_since_last_load": round(age_hours, 2) if age_hours is not None else "never loaded",
                "expected_within_hours": freshness_hours,
            },
        )

    total = [build_total_check(assets)] if table.partitioning in ("daily", "incremental") else []
    return [compare, fresh, *total]


def _compare_window(
    assets: TableAssets, source, warehouse, schema: TableSchema, window: Window | None, selected: set[str]
) -> list[dg.AssetCheckResult]:
    """The selected checks over the rows of ``window`` (every row when None), in source and target."""
    table = assets.table
    target = TargetTable(table.target_schema, table.target_name)
    cursor_type = schema.column(table.cursor_column).arrow_type if window else None
    measure = _measures(schema, table.primary_key)
    expressions = ["count(*)", *(f"sum({source.quote(c)})" for c in measure)]
    source_row = source.aggregate(table.table, schema, expressions, cursor=table.cursor, window=window)
    expressions = ["count(*)", *(f"sum({warehouse.quote(c)})" for c in measure)]
    target_row = warehouse.aggregate(target, expressions, cursor=table.cursor, window=window, cursor_type=cursor_type)
    results = []
    if ROWS in selected:
        results.append(_rows_result(assets, source_row, target_row))
    if CHECKSUM in selected:
        results.append(_checksum_result(assets, measure, schema, source_row, target_row))
    if DUPLICATES in selected:
        results.append(_duplicates_result(assets, warehouse, target, window, cursor_type))
    if SCHEMA in selected:
        results.append(_schema_result(assets, schema, warehouse.column_types(target), warehouse))
    return results


def _latest_materialization(
    context: dg.AssetCheckExecutionContext, key: dg.AssetKey, day: str
) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The materialization of ``day`` that a check of that day judges (the newest)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
    ).records
    if not records:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=records[0].storage_id, run_id=records[0].run_id, timestamp=records[0].timestamp
    )


def _for_partition(
    context: dg.AssetCheckExecutionContext,
    result: dg.AssetCheckResult,
    day: str,
    target: AssetCheckEvaluationTargetMaterializationData | None,
) -> dg.AssetCheckEvaluation:
    """``result`` as the evaluation of ``day``'s partition: a range run checks each of its days on its own."""
    spec = next(s for s in context.check_specs if s.name == result.check_name)
    return dg.AssetCheckEvaluation(
        asset_key=spec.asset_key,
        check_name=spec.name,
        passed=result.passed,
        metadata=result.metadata,
        target_materialization_data=target,
        severity=result.severity,
        description=result.description,
        blocking=spec.blocking,
        partition=day,
    )


def _measures(schema: TableSchema, primary_key: list[str]) -> list[str]:
    """Exact numeric columns to sum, as staged: a single integer key, then the first decimal (else integer) column."""
    staged = schema.arrow_schema()
    decimals = [f.name for f in staged if pa.types.is_decimal(f.type)]
    integers = [f.name for f in staged if pa.types.is_integer(f.type)]
    chosen = [primary_key[0]] if len(primary_key) == 1 and primary_key[0] in integers else []
    return chosen + [c for c in decimals + integers if c not in chosen][: 2 - len(chosen)]


def _number(value) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def _rows_result(assets: TableAssets, source_row: tuple, target_row: tuple | None) -> dg.AssetCheckResult:
    source_rows = int(source_row[0])
    target_rows = int(target_row[0]) if target_row else 0
    difference = source_rows - target_rows
    metadata = {"source_rows": source_rows, "target_rows": target_rows, "difference": difference}
    description = None
    if target_row is None:
        description = "the warehouse table does not exist"
    elif difference > 0:
        description = (
            f"the source holds {difference} more rows than the warehouse (late data? re-materialize the partition)"
        )
    elif difference < 0:
        description = f"the warehouse holds {-difference} rows more than the source"
    return dg.AssetCheckResult(
        asset_key=assets.loaded.key,
        check_name=ROWS,
        passed=difference == 0 and target_row is not None,
        metadata=metadata,
        description=description,
    )


def _checksum_result(assets, measure, schema, source_row, target_row) -> dg.AssetCheckResult:
    with localcontext(prec=100):  # sums of wide decimals need more than the default 28 digits
        return _compare_sums(assets, measure, schema, source_row, target_row)


def _compare_sums(assets, measure, schema, source_row, target_row) -> dg.AssetCheckResult:
    metadata: dict = {"columns": ", ".join(measure) or "(count only)"}
    passed = target_row is not None
    for i, column in enumerate(measure, start=1):
        scale = schema.column(column).arrow_type.scale if pa.types.is_decimal(schema.column(column).arrow_type) else 0
        quantum = Decimal(1).scaleb(-scale)
        expected = (_number(source_row[i]) or Decimal(0)).quantize(quantum)
        actual = (_number(target_row[i]) or Decimal(0)).quantize(quantum) if target_row else None
        metadata[f"source_sum_{column}"], metadata[f"target_sum_{column}"] = str(expected), str(actual)
        passed = passed and expected == actual
    if not measure:
        passed = passed and int(source_row[0]) == int(target_row[0])
    return dg.AssetCheckResult(asset_key=assets.loaded.key, check_name=CHECKSUM, passed=passed, metadata=metadata)


def _duplicates_result(assets: TableAssets, warehouse, target: TargetTable, window, cursor_type) -> dg.AssetCheckResult:
    key = assets.table.primary_key
    distinct = warehouse.count_distinct([warehouse.quote(k) for k in key])
    row = warehouse.aggregate(
        target, [f"count(*) - {distinct}"], cursor=assets.table.cursor, window=window, cursor_type=cursor_type
    )
    duplicated = int(row[0]) if row else 0
    return dg.AssetCheckResult(
        asset_key=assets.loaded.key,
        check_name=DUPLICATES,
        passed=row is not None and duplicated == 0,
        metadata={"duplicate_rows": duplicated, "key": ", ".join(key)},
    )


def _schema_result(assets, schema: TableSchema, actual: dict[str, str], warehouse) -> dg.AssetCheckResult:
    problems = []
    for field in schema.arrow_schema():
        expected = warehouse.canonical_type(warehouse.column_type(field))
        if field.name not in actual:
            problems.append(f"{field.name}: missing")
        elif actual[field.name] != expected:
            problems.append(f"{field.name}: {actual[field.name]}, expected {expected}")
    return dg.AssetCheckResult(
        asset_key=assets.loaded.key,
        check_name=SCHEMA,
        passed=not problems and bool(actual),
        metadata={
            "problems": "; ".join(problems) or ("table missing" if not actual else "none"),
            "columns_checked": len(schema.columns),
        },
    )
