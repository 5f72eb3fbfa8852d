"""What ``sync`` shows: a live progress display while runs go, then one summary row per run."""

from contextlib import contextmanager
from dataclasses import dataclass

import click
import dagster as dg
from rich.console import Console
from rich.live import Live
from rich.table import Table

from pipeline_assets import progress
from pipeline_assets.assets.factory import TableAssets


@dataclass(frozen=True)
class CheckOutcome:
    table: str
    partition: str | None
    check: str
    passed: bool
    details: str

    @classmethod
    def from_result(cls, table: str, partition: str | None, result) -> list["CheckOutcome"]:
        return [
            cls(table, partition, e.check_name, e.passed, ", ".join(f"{k}={v.value}" for k, v in e.metadata.items()))
            for e in result.get_asset_check_evaluations()
        ]


@dataclass(frozen=True)
class RunOutcome:
    table: str
    partition: str | None
    success: bool
    rows_extracted: int | None
    files: int | None
    bytes: int | None
    rows_loaded: int | None
    seconds: float
    error: str | None
    run_id: str
    checks: tuple[CheckOutcome, ...] = ()

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed]

    @classmethod
    def from_result(cls, table: TableAssets, partition: str | None, result, seconds: float) -> "RunOutcome":
        staged = _metadata(result, table.staged)
        loaded = _metadata(result, table.loaded)
        return cls(
            table=table.table.asset_name, partition=partition, success=result.success,
            rows_extracted=staged.get("rows_extracted"), files=staged.get("files"), bytes=staged.get("bytes"),
            rows_loaded=loaded.get("rows_loaded"), seconds=seconds, error=failure_message(result), run_id=result.run_id,
            checks=tuple(CheckOutcome.from_result(table.table.asset_name, partition, result)),
        )  # fmt: skip


def _metadata(result, assets_def: dg.AssetsDefinition) -> dict:
    events = result.asset_materializations_for_node(assets_def.op.name)
    return {k: v.value for k, v in events[-1].metadata.items()} if events else {}


def failure_message(result) -> str | None:
    """The first step failure's one-line description (None for a successful run, or when the only failure is a
    blocking check: the check results say more)."""
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                return data.user_failure_data.description
            message = data.error.message.strip().splitlines()[0] if data.error else "step failed"
            if "blocking asset check" in message:
                continue
            return message.split(": ", 1)[-1] if message.startswith("dagster.") else message
    return None if result.success or result.get_asset_check_evaluations() else "run failed"


class Report:
    def __init__(self, units_total: int, limit: int | None):
        self.units_total, self.limit = units_total, limit
        self.outcomes: list[RunOutcome] = []
        self.console = Console(stderr=True)
        self._current = ""
        self._rows: dict[str, int] = {}
        self._live: Live | None = None

    @contextmanager
    def live(self):
        if not self.console.is_terminal:
            yield
            return
        unlisten = progress.listen(self._on_progress)
        with Live(self._status(), console=self.console, refresh_per_second=4, transient=True) as live:
            self._live = live
            try:
                yield
            finally:
                unlisten()
                self._live = None

    def start(self, table: str, partition: str | None) -> None:
        self._current, self._rows = f"{table} {partition or ''}".strip(), {}
        self._refresh()

    def finish(self, outcome: RunOutcome) -> None:
        self.outcomes.append(outcome)
        if outcome.failed_checks and not outcome.error:
            line = f"CHECK   {outcome.table} {outcome.partition or '-'}: {', '.join(c.check for c in outcome.failed_checks)} failed"
        elif outcome.success:
            line = f"ok      {outcome.table} {outcome.partition or '-'}: {outcome.rows_loaded or 0:,} rows in {outcome.seconds:.1f}s"
        else:
            line = f"FAILED  {outcome.table} {outcome.partition or '-'} (reason below)"
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)
        self._refresh()

    def _on_progress(self, label: str, phase: str, rows: int) -> None:
        self._rows[phase] = rows
        self._refresh()

    def _status(self) -> str:
        done = len(self.outcomes)
        rows = ", ".join(f"{phase} {n:,} rows" for phase, n in self._rows.items())
        return f"[{done}/{self.units_total}] {self._current} {rows}"

    def _refresh(self) -> None:
        if self._live:
            self._live.update(self._status())

    def summary(self) -> None:
        table = Table(title="sync summary")
        for column in ("table", "partition", "rows extracted", "files", "bytes", "rows loaded", "seconds", "checks", "status"):
            table.add_column(column, justify="right" if column not in ("table", "partition", "checks", "status") else "left")
        for o in self.outcomes:
            checks = f"{len(o.checks) - len(o.failed_checks)}/{len(o.checks)} passed" if o.checks else "-"
            table.add_row(
                o.table, o.partition or "-", _n(o.rows_extracted), _n(o.files), _n(o.bytes), _n(o.rows_loaded),
                f"{o.seconds:.1f}", checks, "ok" if o.success and not o.failed_checks else "FAILED",
            )  # fmt: skip
        Console(width=120).print(table)
        failed = [o for o in self.outcomes if o.error]
        if self.limit:
            click.echo(f"note: capped at {self.limit} rows per query (--limit); the warehouse holds a sample")
        for o in failed:
            click.echo(f"failed: {o.table} {o.partition or '-'}: {o.error}", err=True)
        for o in self.outcomes:
            for c in o.failed_checks:
                click.echo(f"check failed: {o.table} {o.partition or '-'}: {c.check} ({c.details})", err=True)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
