"""``sync``: materialize tables (and partitions) through Dagster, then print what moved."""

import time

import click
import dagster as dg

from pipeline_assets.assembly import assemble
from pipeline_assets.assets.incremental import FULL_REFRESH_TAG
from pipeline_assets.assets.launch import launch_in_process
from pipeline_assets.cli.cleanup import clean_after_sync
from pipeline_assets.cli.context import confirm, open_context
from pipeline_assets.cli.partitions import Unit, plan, selected_tables, selection_options
from pipeline_assets.cli.report import Report, RunOutcome, outcomes_of
from pipeline_assets.core.errors import PipelineError


@click.command()
@selection_options
@click.option("--limit", type=click.IntRange(min=1), help="cap the rows read per query (for testing)")
@click.option("--stage-only", is_flag=True, help="extract and stage, do not load")
@click.option("--load-only", is_flag=True, help="load what is staged and not loaded yet, do not extract")
@click.option("--full-refresh", is_flag=True, help="rebuild incremental/unpartitioned tables aside and swap them in")
@click.option("--yes", is_flag=True, help="confirm --full-refresh without asking")
@click.option("--verbose", is_flag=True, help="show Dagster's log")
@click.pass_obj
def sync(
    obj, tables, all_tables, partition, from_day, to_day, limit, stage_only, load_only, full_refresh, yes, verbose
) -> None:
    """Extract, stage and load tables. Without partition options, a daily table loads every partition the
    Dagster instance has not materialized yet; an incremental table loads what is new since its watermark."""
    if sum((stage_only, load_only, full_refresh)) > 1:
        raise PipelineError("use at most one of --stage-only, --load-only and --full-refresh")
    if full_refresh and limit:
        raise PipelineError("--full-refresh reads every row; it cannot take --limit")
    context = open_context(obj["config_path"])
    assembly = assemble(context.project)
    selected = selected_tables(assembly, context.project, tables, all_tables, partition, from_day, to_day)
    if full_refresh:
        daily = [t.table.asset_name for t in selected if t.partitions_def]
        if daily:
            raise PipelineError(
                f"--full-refresh is for incremental and unpartitioned tables; {daily[0]} is daily (use --from/--to)"
            )
        confirm(f"rebuild {', '.join(t.table.asset_name for t in selected)} from every source row?", yes, "--yes")
    steps = "staged" if stage_only else "loaded" if load_only else None
    units = [u for t in selected for u in plan(t, context.instance, partition, from_day, to_day, default="missing")]
    if not units:
        click.echo("Nothing to do: every partition is already materialized (name one with --partition).")
        return
    kinds = {"files per run (files tables)" if u.table.table.files else "rows per query" for u in units}
    report = Report(units_total=sum(max(1, len(u.days)) for u in units), limit=limit, limited=tuple(sorted(kinds)))
    with report.live():
        for unit in units:
            report.start(unit.label)
            unit.outcomes = run_unit(assembly, unit, context.instance, limit, verbose, steps, full_refresh)
            report.finish(unit.outcomes)
    report.summary()
    if not stage_only:
        clean_after_sync(context, units)
    if any(not o.success or o.failed_checks for u in units for o in u.outcomes):
        raise SystemExit(1)


def run_unit(
    assembly,
    unit: Unit,
    instance: dg.DagsterInstance,
    limit: int | None,
    verbose: bool,
    steps: str | None,
    full_refresh: bool,
) -> list[RunOutcome]:
    """One Dagster run for the unit's days (the same range runs a backfill launches)."""
    started = time.monotonic()
    tags = {"pipeline_assets/trigger": "cli", **({FULL_REFRESH_TAG: "true"} if full_refresh else {})}
    selection = getattr(unit.table, steps).key if steps else None
    result = launch_in_process(
        assembly.definitions,
        assembly.job_of[unit.table.loaded.key],
        unit.table,
        unit.days,
        instance,
        limit=limit,
        log_level="INFO" if verbose else "CRITICAL",
        tags=tags,
        selection=[selection] if selection else None,
    )
    return outcomes_of(unit.table, unit.days, result, time.monotonic() - started, selection)
