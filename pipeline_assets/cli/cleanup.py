"""Cleanup after load inside ``sync``: with ``cleanup_after_load`` set, the staged files whose rows the sync just
loaded are deleted when it ends, as the cleanup sensor does where the daemon runs. Only ledger-confirmed files go
(``done``: their rows are in the target); files awaiting a load and a live run's files stay."""

from datetime import UTC, datetime

import click

from pipeline_assets.cli.context import CommandContext, table_stages
from pipeline_assets.cli.partitions import Unit
from pipeline_assets.core import layout
from pipeline_assets.sensors.table_stage import run_status_lookup
from pipeline_assets.stage.lifecycle import DONE, delete, select


def clean_after_sync(context: CommandContext, units: list[Unit]) -> None:
    """Delete what each table's ``cleanup_after_load`` says: the loaded days' files (``after_partition``), or every
    loaded file of the table once the sync is over (``after_all``)."""
    loaded: dict[str, set[str]] = {}
    for unit in units:
        days = {o.partition or layout.UNPARTITIONED for o in unit.outcomes if o.success}
        loaded.setdefault(unit.table.table.asset_name, set()).update(days)
    for name, days in loaded.items():
        policy = context.project.policy(context.project.table(name)).cleanup_after_load
        if policy == "never" or not days:
            continue
        (corner,) = table_stages(context.project, [name])
        done = select(corner.entries(run_status_lookup(context.instance)), states={DONE}, now=datetime.now(UTC))
        chosen = [e for e in done if policy == "after_all" or corner.partition_of(e) in days]
        freed = delete(corner.store, chosen)
        corner.forget(chosen)
        click.echo(f"cleanup: {name}: deleted {len(chosen)} staged objects, {freed:,} bytes ({policy})")
