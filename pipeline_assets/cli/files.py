"""``files``: the reprocessing recipes of a files table (fresh start, full reprocess, backfill missing data)."""

from datetime import UTC, datetime

import click

from pipeline_assets.assembly import assemble
from pipeline_assets.autoload import recipes
from pipeline_assets.autoload.jobs import load_job_name
from pipeline_assets.cli.context import confirm, open_context, warehouse_for
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.source_ledger import SourceLedger

_table_option = click.option("-t", "--table", required=True, help="a files table")
_yes_option = click.option("--yes", is_flag=True, help="do it without asking")


@click.group()
def files() -> None:
    """Reprocess a files table's dropped files: each recipe is one transaction on the warehouse."""


def _open(obj, table: str):
    context = open_context(obj["config_path"])
    config = context.project.table(table)
    if config.files is None:
        raise PipelineError(f"{table} is not a files table (its source {config.source!r} is a database)")
    assets = next(t for t in assemble(context.project).tables if t.table.asset_name == config.asset_name)
    recipes.ensure_idle(context.instance, load_job_name(assets), table)
    return config, warehouse_for(context.project, config), TargetTable(config.target_schema, config.target_name)


@files.command("fresh-start")
@_table_option
@_yes_option
@click.pass_obj
def fresh_start(obj, table: str, yes: bool) -> None:
    """Drop TABLE; files already processed stay processed, so only files new since are loaded."""
    _config, warehouse, target = _open(obj, table)
    confirm(f"drop {target} and load only files that arrive from now on?", yes, "--yes")
    click.echo(recipes.fresh_start(warehouse, target).describe("fresh_start", str(target)))


@files.command("reprocess")
@_table_option
@_yes_option
@click.pass_obj
def full_reprocess(obj, table: str, yes: bool) -> None:
    """Drop TABLE and clear its ledger, so every file in the source is loaded again."""
    _config, warehouse, target = _open(obj, table)
    with warehouse.ledger() as ledger:
        books = SourceLedger(ledger.tx)
        books.ensure()
        known = books.records(target)
    size, rows = sum(r.bytes or 0 for r in known), sum(r.rows or 0 for r in known)
    confirm(
        f"drop {target} and load all {len(known)} known files again ({size:,} bytes, {rows:,} rows when last read; "
        "and any other file in the source)?",
        yes,
        "--yes",
    )
    click.echo(recipes.full_reprocess(warehouse, target).describe("full_reprocess", str(target)))


@files.command("backfill")
@_table_option
@click.option("--pattern", help="only files whose URI (or key) matches this glob")
@click.option("--status", help="only files in this ledger status (e.g. failed, skipped, superseded)")
@click.option("--partition", help="only files of this partition")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    help="only files last modified at or after this UTC time",
)
@click.option("--force", is_flag=True, help="append again files whose rows the table holds (duplicates them)")
@_yes_option
@click.pass_obj
def backfill(
    obj,
    table: str,
    pattern: str | None,
    status: str | None,
    partition: str | None,
    since: datetime | None,
    force: bool,
    yes: bool,
) -> None:
    """Clear the chosen files of TABLE in the ledger without dropping it, so the next runs load them again."""
    config, warehouse, target = _open(obj, table)
    subset = recipes.Subset(pattern, status, partition, since.replace(tzinfo=UTC) if since else None)
    confirm(f"load the chosen files of {target} again, into the table as it is?", yes, "--yes")
    click.echo(recipes.backfill(warehouse, config, target, subset, force).describe("backfill", str(target)))
