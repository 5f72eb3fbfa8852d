"""A files table's checks: no file is left failed, and (appending) the table holds exactly the rows of the files
the ledger says it loaded."""

import dagster as dg

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.assets.failures import user_errors
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.source_ledger import SourceLedger

NO_FAILED, ROWS = "no_failed_files", "rows_match_files"


def build_files_checks(assets: TableAssets) -> list[dg.AssetChecksDefinition]:
    table = assets.table
    target = TargetTable(table.target_schema, table.target_name)

    @dg.asset_check(
        asset=assets.loaded.key,
        name=NO_FAILED,
        required_resource_keys={table.target},
        description="No dropped file is in the ledger as failed (a warning: the good files are loaded; a failed "
        f"file is retried by later runs up to {table.dropped.max_retries} times, then waits for you).",
    )
    def no_failed_files(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with user_errors(), getattr(context.resources, table.target).warehouse().ledger() as ledger:
            books = SourceLedger(ledger.tx)
            books.ensure()
            failed = books.records(target, statuses=["failed"])
        out_of_retries = [r for r in failed if r.attempts > table.dropped.max_retries]
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{len(failed)} files failed, e.g. {failed[0].error}" if failed else None,
            metadata={
                "failed_files": len(failed),
                "out_of_retries": len(out_of_retries),
                "failed": dg.MetadataValue.md(
                    "\n".join(f"* `{r.uri}` ({r.attempts} attempts): {r.error}" for r in failed[:50]) or "none"
                ),
            },
        )

    checks = [no_failed_files]
    if table.write_mode == "append":

        @dg.asset_check(
            asset=assets.loaded.key,
            name=ROWS,
            required_resource_keys={table.target},
            description="The table holds exactly as many rows as the files the ledger lists as loaded into it.",
        )
        def rows_match_files(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            with user_errors():
                warehouse = getattr(context.resources, table.target).warehouse()
                with warehouse.ledger() as ledger:
                    books = SourceLedger(ledger.tx)
                    books.ensure()
                    loaded = books.records(target, statuses=["loaded"])
                row = warehouse.aggregate(target, ["count(*)"])
            expected, actual = sum(r.rows or 0 for r in loaded), int(row[0]) if row else 0
            return dg.AssetCheckResult(
                passed=expected == actual and (row is not None or not loaded),
                metadata={
                    "rows_in_loaded_files": expected,
                    "target_rows": actual,
                    "files_loaded": len(loaded),
                    "difference": actual - expected,
                },
            )

        checks.append(rows_match_files)
    return checks
