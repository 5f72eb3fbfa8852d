"""``check``: run the source-vs-warehouse asset checks through Dagster and print what they found."""

import click
from rich.console import Console
from rich.table import Table

from pipeline_assets.assets.launch import check_in_process
from pipeline_assets.cli.context import open_context
from pipeline_assets.cli.partitions import plan
from pipeline_assets.cli.report import CheckOutcome, failure_message
from pipeline_assets.definitions import assemble
from pipeline_assets.errors import PipelineError


@click.command()
@click.option("-t", "--table", "tables", multiple=True, metavar="TABLE", help="a configured table (repeatable)")
@click.option("--all", "all_tables", is_flag=True, help="every configured table")
@click.option("--partition", metavar="DAY", help="one daily partition (YYYY-MM-DD)")
@click.option("--from", "from_day", metavar="DAY", help="first partition of a range")
@click.option("--to", "to_day", metavar="DAY", help="last partition of a range (inclusive)")
@click.pass_obj
def check(obj, tables, all_tables, partition, from_day, to_day) -> None:
    """Compare warehouse tables with their sources (row counts, sums, duplicate keys, schema, freshness).
    Without partition options, every materialized partition is checked. Exit status 1 if any check fails."""
    if bool(tables) == all_tables:
        raise PipelineError("choose tables with -t TABLE (repeatable) or --all")
    if partition and (from_day or to_day):
        raise PipelineError("use either --partition or --from/--to")
    context = open_context(obj["config_path"])
    assembly = assemble(context.project)
    chosen = [context.project.table(name) for name in tables] if tables else list(context.project.tables)
    units = [u for t in assembly.tables if t.table in chosen
             for u in plan(t, context.instance, partition, from_day, to_day, default="materialized")]  # fmt: skip
    outcomes: list[CheckOutcome] = []
    errors = []
    for unit in units:
        job = assembly.job_of[unit.table.loaded.key]
        result = check_in_process(assembly.definitions, job, unit.table, unit.partition, context.instance)
        outcomes += CheckOutcome.from_result(unit.table.table.asset_name, unit.partition, result)
        if failure_message(result):
            errors.append(f"{unit.table.table.asset_name} {unit.partition or '-'}: {failure_message(result)}")
    view = Table(title="checks")
    for column in ("table", "partition", "check", "result", "figures"):
        view.add_column(column, overflow="fold")
    for o in outcomes:
        view.add_row(o.table, o.partition or "-", o.check, "passed" if o.passed else "FAILED", o.details)
    Console(width=160).print(view)
    for line in errors:
        click.echo(f"failed: {line}", err=True)
    failed = [o for o in outcomes if not o.passed]
    click.echo(f"{len(outcomes) - len(failed)} of {len(outcomes)} checks passed")
    if failed or errors or not outcomes:
        raise SystemExit(1)
