"""``sync``: materialize tables (and partitions) through Dagster, then print what moved."""

import time
import click
import dagster as dg

from pipeline_assets.assets.launch import launch_in_process
from pipeline_assets.cli.context import open_context
from pipeline_assets.cli.partitions import Unit, plan
from pipeline_assets.cli.report import Report, RunOutcome
from pipeline_assets.definitions import assemble
from pipeline_assets.errors import PipelineError


@click.command()
@click.option("-t", "--table", "tables", multiple=True, metavar="TABLE", help="a configured table (repeatable)")
@click.option("--all", "all_tables", is_flag=True, help="every configured table")
@click.option("--partition", metavar="DAY", help="one daily partition (YYYY-MM-DD)")
@click.option("--from", "from_day", metavar="DAY", help="first partition of a range")
@click.option("--to", "to_day", metavar="DAY", help="last partition of a range (inclusive)")
@click.option("--limit", type=click.IntRange(min=1), help="cap the rows read per query (for testing)")
@click.option("--verbose", is_flag=True, help="show Dagster's log")
@click.pass_obj
def sync(obj, tables, all_tables, partition, from_day, to_day, limit, verbose) -> None:
    """Extract, stage and load tables. Without partition options, a daily table loads every partition the
    Dagster instance has not materialized yet."""
    if bool(tables) == all_tables:
        raise PipelineError("choose tables with -t TABLE (repeatable) or --all")
    if partition and (from_day or to_day):
        raise PipelineError("use either --partition or --from/--to")
    context = open_context(obj["config_path"])
    assembly = assemble(context.project)
    chosen = [context.project.table(name) for name in tables] if tables else list(context.project.tables)
    selected = [t for t in assembly.tables if t.table in chosen]
    units = [u for t in selected for u in plan(t, context.instance, partition, from_day, to_day, default="missing")]
    if not units:
        click.echo("Nothing to do: every partition is already materialized (name one with --partition).")
        return
    report = Report(units_total=len(units), limit=limit)
    with report.live():
        for unit in units:
            report.start(unit.table.table.asset_name, unit.partition)
            unit.outcome = run_unit(assembly, unit, context.instance, limit, verbose)
            report.finish(unit.outcome)
    report.summary()
    if any(not u.outcome.success or u.outcome.failed_checks for u in units):
        raise SystemExit(1)


def run_unit(assembly, unit: Unit, instance: dg.DagsterInstance, limit: int | None, verbose: bool) -> RunOutcome:
    started = time.monotonic()
    result = launch_in_process(
        assembly.definitions, assembly.job_of[unit.table.loaded.key], unit.table, unit.partition, instance,
        limit=limit, log_level="INFO" if verbose else "CRITICAL", tags={"pipeline_assets/trigger": "cli"},
    )  # fmt: skip
    return RunOutcome.from_result(unit.table, unit.partition, result, time.monotonic() - started)
