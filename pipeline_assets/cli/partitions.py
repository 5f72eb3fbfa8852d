"""Which partitions a command acts on: --partition, --from/--to, or a default, validated against the table."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import click
import dagster as dg

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.cli.report import RunOutcome
from pipeline_assets.core.errors import PipelineError

_SELECTION = [
    click.option("-t", "--table", "tables", multiple=True, metavar="TABLE", help="a configured table (repeatable)"),
    click.option("--all", "all_tables", is_flag=True, help="every configured table"),
    click.option("--partition", metavar="DAY", help="one daily partition (YYYY-MM-DD)"),
    click.option("--from", "from_day", metavar="DAY", help="first partition of a range"),
    click.option("--to", "to_day", metavar="DAY", help="last partition of a range (inclusive)"),
]


def selection_options(command: Callable) -> Callable:
    """The table and partition options that ``sync`` and ``check`` share."""
    for option in reversed(_SELECTION):
        command = option(command)
    return command


def selected_tables(
    assembly,
    project,
    tables: tuple[str, ...],
    all_tables: bool,
    partition: str | None,
    from_day: str | None,
    to_day: str | None,
) -> list[TableAssets]:
    """The tables the options name, after checking the options make sense together."""
    if bool(tables) == all_tables:
        raise PipelineError("choose tables with -t TABLE (repeatable) or --all")
    if partition and (from_day or to_day):
        raise PipelineError("use either --partition or --from/--to")
    chosen = [project.table(name) for name in tables] if tables else list(project.tables)
    return [t for t in assembly.tables if t.table in chosen]


@dataclass
class Unit:
    """One run: a table and the consecutive days it covers (``[]`` for an unpartitioned table), at most the
    table's ``days_per_run``, like the runs a backfill launches."""

    table: TableAssets
    days: list[str]
    outcomes: list[RunOutcome] = field(default_factory=list)

    @property
    def label(self) -> str:
        span = self.days[0] if len(self.days) == 1 else f"{self.days[0]}..{self.days[-1]}" if self.days else ""
        return f"{self.table.table.asset_name} {span}".strip()


def plan(
    table: TableAssets,
    instance: dg.DagsterInstance,
    partition: str | None,
    from_day: str | None,
    to_day: str | None,
    default: str,
) -> list[Unit]:
    """The runs for ``table``: the named partition or range, else (``default``) the partitions not yet
    materialized (``missing``) or those already materialized (``materialized``), in runs of consecutive days."""
    partitions_def = table.partitions_def
    if partitions_def is None:
        return [Unit(table, [])]
    name = table.table.asset_name
    keys = partitions_def.get_partition_keys()
    if partition or from_day or to_day:
        asked = {"--partition": partition} if partition else {"--from": from_day, "--to": to_day}
        named = {option: _day(value, option) for option, value in asked.items() if value}
        for day in named.values():
            _check_in_range(name, day, table.table.first_day, keys)
        first = named.get("--partition") or named.get("--from") or keys[0]
        last = named.get("--partition") or named.get("--to") or keys[-1]
        if first > last:
            raise PipelineError(f"--from {first} is after --to {last}")
        chosen = {k for k in keys if first <= k <= last}
    else:
        done = instance.get_materialized_partitions(table.loaded.key)
        chosen = {k for k in keys if (k in done) == (default == "materialized")}
    limit = len(keys) if table.table.days_per_run == "all" else int(table.table.days_per_run)
    units: list[Unit] = []
    for i, key in enumerate(keys):
        if key not in chosen:
            continue
        follows = i > 0 and keys[i - 1] in chosen and units and len(units[-1].days) < limit
        if follows:
            units[-1].days.append(key)
        else:
            units.append(Unit(table, [key]))
    return units


def _day(value: str, option: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise PipelineError(f"{option} {value}: expected a day as YYYY-MM-DD") from None


def _check_in_range(table: str, day: str, start: date, keys: Sequence[str]) -> None:
    if day < start.isoformat():
        raise PipelineError(f"partition {day} is before the start date {start.isoformat()} of table {table!r}")
    if not keys or day > keys[-1]:
        raise PipelineError(
            f"partition {day} of table {table!r} is not complete yet "
            f"(last complete day: {keys[-1] if keys else 'none'})"
        )
