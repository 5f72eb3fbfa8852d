"""``watermark``: read and move the per-table watermarks of watermark-driven (incremental) tables."""

import json
from datetime import UTC, datetime

import click

from pipeline_assets.assets.incremental import as_utc, state_key
from pipeline_assets.cli.context import confirm, open_context, warehouse_for
from pipeline_assets.config import ProjectConfig, TableConfig
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.target import TargetTable
from pipeline_assets.warehouses.state import Change


@click.group()
def watermark() -> None:
    """Watermarks: the highest cursor value each incremental table's target holds, with their history."""


def _incremental(project: ProjectConfig, name: str) -> TableConfig:
    table = project.table(name)
    if table.partitioning != "incremental":
        raise PipelineError(
            f"table {name!r} is not watermark-driven (partitioning: {table.partitioning}); its partitions are its state"
        )
    return table


def _timestamp(text: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise PipelineError(
            f"--timestamp {text}: expected an ISO date or timestamp like '2025-08-09 20:00:01' "
            "(UTC unless it has an offset)"
        ) from None


def _show(mark, history) -> None:
    if mark is None:
        click.echo("  no watermark yet (the next run extracts every row)")
        return
    click.echo(f"  cursor value        {mark.cursor_value.isoformat() if mark.cursor_value else 'none (reset)'}")
    click.echo(f"  last extraction     {mark.last_extraction_at.isoformat() if mark.last_extraction_at else '-'}")
    click.echo(f"  extract / load      {mark.extract_status or '-'} / {mark.load_status or '-'}")
    click.echo(f"  strategy            {mark.strategy or '-'}    updated {mark.updated_at.isoformat()}")
    details = json.loads(mark.metadata or "{}")
    for stage in ("extract", "load"):
        if f"{stage}_error" in details:
            click.echo(f"  {stage} failed at {details[f'{stage}_failed_at']}: {details[f'{stage}_error']}")
    for change in history:
        click.echo(_line(change))


def _line(change: Change) -> str:
    old, new = (v.isoformat() if v else "none" for v in (change.old_value, change.new_value))
    at, by = f"{change.changed_at:%Y-%m-%d %H:%M:%S}", change.changed_by
    return f"  #{change.number:<4} {at}  {old} → {new}  by {by}: {change.reason}"


@watermark.command("get")
@click.option("-t", "--table", required=True, help="an incremental table")
@click.pass_obj
def get(obj, table: str) -> None:
    """Show TABLE's watermark, both stages' status and its recent history."""
    project = open_context(obj["config_path"]).project
    config = _incremental(project, table)
    with warehouse_for(project, config).state() as state:
        click.echo(f"{table}:")
        _show(state.get(state_key(config)), state.history(state_key(config)))


@watermark.command("list")
@click.pass_obj
def list_marks(obj) -> None:
    """Every incremental table's watermark."""
    project = open_context(obj["config_path"]).project
    for config in (t for t in project.tables if t.partitioning == "incremental"):
        with warehouse_for(project, config).state() as state:
            mark = state.get(state_key(config))
        value = mark.cursor_value.isoformat() if mark and mark.cursor_value else "none"
        statuses = f"extract {mark.extract_status or '-'}, load {mark.load_status or '-'}" if mark else "-"
        click.echo(f"{config.asset_name:<30} {value:<34} {statuses}")


@watermark.command("set")
@click.option("-t", "--table", required=True, help="an incremental table")
@click.option("--timestamp", required=True, help="the new cursor value, e.g. '2025-08-09 20:00:01'")
@click.option("--reason", default="set by hand", help="recorded in the history")
@click.option("--yes", is_flag=True, help="do not ask (needed when not on a terminal)")
@click.pass_obj
def set_mark(obj, table: str, timestamp: str, reason: str, yes: bool) -> None:
    """Move TABLE's watermark: the next sync extracts rows from TIMESTAMP (minus the lookback) on."""
    value = _timestamp(timestamp)
    _move(obj, table, value, reason, yes)


@watermark.command()
@click.option("-t", "--table", required=True, help="an incremental table")
@click.option("--reason", default="reset by hand", help="recorded in the history")
@click.option("--yes", is_flag=True, help="do not ask (needed when not on a terminal)")
@click.pass_obj
def reset(obj, table: str, reason: str, yes: bool) -> None:
    """Forget TABLE's watermark: the next sync extracts every row."""
    _move(obj, table, None, reason, yes)


def _move(obj, table: str, value: datetime | None, reason: str, yes: bool) -> None:
    project = open_context(obj["config_path"]).project
    config = _incremental(project, table)
    with warehouse_for(project, config).state() as state:
        current = state.get(state_key(config))
        old = current.cursor_value.isoformat() if current and current.cursor_value else "none"
        confirm(f"move the watermark of {table} from {old} to {value.isoformat() if value else 'none'}?", yes, "--yes")
        state.move(
            state_key(config),
            str(TargetTable(config.target_schema, config.target_name)),
            value,
            by=f"cli at {datetime.now(UTC):%Y-%m-%d %H:%M:%S}",
            reason=reason,
            strategy="manual",
            metadata={"set_by_hand": True},
        )
    click.echo(f"{table}: watermark {old} → {value.isoformat() if value else 'none'}")


@watermark.command("history")
@click.option("-t", "--table", required=True, help="an incremental table")
@click.option("--limit", type=click.IntRange(min=1), default=50, help="how many of the latest changes")
@click.pass_obj
def history(obj, table: str, limit: int) -> None:
    """Every change of TABLE's watermark, newest first, numbered for ``watermark restore --to``."""
    project = open_context(obj["config_path"]).project
    config = _incremental(project, table)
    with warehouse_for(project, config).state() as state:
        changes = state.history(state_key(config), limit)
    click.echo(f"{table}: {len(changes)} changes" + ("" if changes else " (no watermark yet)"))
    for change in changes:
        click.echo(_line(change))


@watermark.command()
@click.option("-t", "--table", required=True, help="an incremental table")
@click.option("--to", "number", type=click.IntRange(min=1), required=True, help="a change's number (watermark history)")
@click.option("--yes", is_flag=True, help="do not ask (needed when not on a terminal)")
@click.pass_obj
def restore(obj, table: str, number: int, yes: bool) -> None:
    """Put TABLE's watermark back to the value change NUMBER left it at (a corrupted or mistaken watermark)."""
    project = open_context(obj["config_path"]).project
    config = _incremental(project, table)
    with warehouse_for(project, config).state() as state:
        changes = {c.number: c for c in state.history(state_key(config), limit=2**31)}
    if number not in changes:
        raise PipelineError(f"{table}: no change #{number} in the watermark history (it has {len(changes)})")
    _move(obj, table, changes[number].new_value, f"restored to #{number}", yes)
