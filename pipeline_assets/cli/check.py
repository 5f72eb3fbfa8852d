"""``check``: run the source-vs-warehouse asset checks through Dagster and print what they found."""

import click
from rich.console import Console
from rich.table import Table

from pipeline_assets.assembly import assemble
from pipeline_assets.assets.launch import check_in_process
from pipeline_assets.cli.context import open_context
from pipeline_assets.cli.partitions import plan, selected_tables, selection_options
from pipeline_assets.cli.report import CheckOutcome, failure_message


@click.command()
@selection_options
@click.pass_obj
def check(obj, tables, all_tables, partition, from_day, to_day) -> None:
    """Compare warehouse tables with their sources (row counts, sums, duplicate keys, schema, freshness).
    Without partition options, every materialized partition is checked. Exit status 1 if any check fails."""
    context = open_context(obj["config_path"])
    assembly = assemble(context.project)
    selected = selected_tables(assembly, context.project, tables, all_tables, partition, from_day, to_day)
    units = [
        u for t in selected for u in plan(t, context.instance, partition, from_day, to_day, default="materialized")
    ]
    outcomes: list[CheckOutcome] = []
    errors = []
    for unit in units:
        job = assembly.job_of[unit.table.loaded.key]
        result = check_in_process(assembly.definitions, job, unit.table, unit.days, context.instance)
        outcomes += CheckOutcome.from_result(unit.table.table.asset_name, result)
        if failure_message(result):
            errors.append(f"{unit.label}: {failure_message(result)}")
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
