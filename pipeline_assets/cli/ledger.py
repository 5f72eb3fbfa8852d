"""``ledger``: read the loaded-files ledger, and clear records so files are processed again."""

import click
from rich.console import Console
from rich.table import Table

from pipeline_assets.cli.context import open_context, table_stages
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.warehouses.ledger import IN_TARGET, STATUSES


@click.group()
def ledger() -> None:
    """The record of every staged file and whether its rows reached the target."""


@ledger.command("list")
@click.option("-t", "--table", required=True, help="a configured table")
@click.option("--partition", help="one partition")
@click.option("--status", type=click.Choice(STATUSES), help="only records in this status")
@click.pass_obj
def list_records(obj, table: str, partition: str | None, status: str | None) -> None:
    """The ledger records of TABLE."""
    context = open_context(obj["config_path"])
    corner = table_stages(context.project, [table])[0]
    records = corner.records(partition, [status] if status else None)
    view = Table(title=f"ledger of {corner.target}")
    for column in ("file", "partition", "rows", "bytes", "status", "staged at", "loaded at", "run"):
        view.add_column(column, justify="right" if column in ("rows", "bytes") else "left", overflow="fold")
    for r in records:
        view.add_row(
            r.file_uri.rsplit("/", 1)[-1],
            r.partition_key,
            f"{r.rows:,}" if r.rows is not None else "-",
            f"{r.bytes:,}" if r.bytes is not None else "-",
            r.status,
            f"{r.staged_at:%Y-%m-%d %H:%M:%S}" if r.staged_at else "-",
            f"{r.loaded_at:%Y-%m-%d %H:%M:%S}" if r.loaded_at else "-",
            r.load_run_id or r.run_id,
        )
    Console(width=160).print(view)
    click.echo(f"{len(records)} records")


@ledger.command()
@click.option("-t", "--table", required=True, help="a configured table")
@click.option("--partition", help="only this partition's files")
@click.option("--file", "uri", metavar="URI", help="only this file")
@click.option(
    "--force", is_flag=True, help="clear even when the target still holds the rows (append mode would duplicate them)"
)
@click.pass_obj
def clear(obj, table: str, partition: str | None, uri: str | None, force: bool) -> None:
    """Mark TABLE's records (or a partition's, or one file's) so their files are loaded again."""
    if partition and uri:
        raise PipelineError("use either --partition or --file")
    context = open_context(obj["config_path"])
    config = context.project.table(table)
    corner = table_stages(context.project, [table])[0]
    records = [r for r in corner.records(partition) if (uri is None or r.file_uri == uri) and r.status != "cleared"]
    holding = [r for r in records if r.status in IN_TARGET and r.loaded_at is not None]
    if holding and config.write_mode == "append" and not force:
        with corner.warehouse.ledger() as ledger:
            exists = corner.warehouse.table_exists(ledger.tx, corner.target)
        if exists:
            raise PipelineError(
                f"refusing: {corner.target} still holds the rows of {len(holding)} of these files and {table} "
                "appends, so loading them again would duplicate them; delete those rows (or drop the table) first, "
                "or pass --force"
            )
    with corner.warehouse.ledger() as ledger:
        cleared = ledger.set_status(corner.target, [r.file_uri for r in records], "cleared", unload=True)
    click.echo(f"cleared {cleared} records of {table}" + (f" partition {partition}" if partition else ""))
