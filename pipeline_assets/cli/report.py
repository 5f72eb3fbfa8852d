"""What ``sync`` shows: a live progress display while runs go, then one summary row per run."""

from contextlib import contextmanager
from dataclasses import dataclass

import click
import dagster as dg
from rich.console import Console
from rich.live import Live
from rich.table import Table

from pipeline_assets.assets.factory import TableAssets
from pipeline_assets.core import progress


@dataclass(frozen=True)
class CheckOutcome:
    table: str
    partition: str | None
    check: str
    passed: bool
    details: str

    @classmethod
    def from_result(cls, table: str, result) -> list["CheckOutcome"]:
        """Every check evaluation of a run, each with the partition it judged."""
        return [
            cls(table, e.partition, e.check_name, e.passed, ", ".join(f"{k}={v.value}" for k, v in e.metadata.items()))
            for e in result.get_asset_check_evaluations()
        ]


@dataclass(frozen=True)
class RunOutcome:
    """What one run did for one of its days (or for an unpartitioned table)."""

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


def outcomes_of(
    table: TableAssets, days: list[str], result, seconds: float, selection: dg.AssetKey | None
) -> list[RunOutcome]:
    """One outcome per day of the run (one for an unpartitioned table): a day succeeded when what the run was to
    materialize for it was, so the days a range run committed before a failure count as done."""
    name = table.table.asset_name
    staged, loaded = _by_partition(result, table.staged), _by_partition(result, table.loaded)
    checks = CheckOutcome.from_result(name, result)
    error = failure_message(result)
    checks_error = failure_message(result, steps_like="_checks")  # the checks could not run: the days are not proven
    wanted = staged if selection == table.staged.key else loaded
    outcomes: list[RunOutcome] = []
    each: list[str | None] = [*days] or [None]
    for day in each:
        done = day in wanted and not checks_error
        first_failure = all(o.success for o in outcomes)
        s, w = staged.get(day, {}), loaded.get(day, {})
        took = seconds if len(days) <= 1 else s.get("seconds", 0.0) + w.get("seconds", 0.0)
        outcomes.append(
            RunOutcome(
                table=name,
                partition=day,
                success=done,
                rows_extracted=s.get("rows_extracted"),
                files=s.get("files"),
                bytes=s.get("bytes"),
                rows_loaded=w.get("rows_loaded"),
                seconds=took,
                run_id=result.run_id,
                error=None
                if done
                else checks_error or (error or "run failed")
                if first_failure
                else "not run: an earlier day of its run failed",
                checks=tuple(c for c in checks if c.partition in (day, None)),
            )
        )
    return outcomes


def _by_partition(result, assets_def: dg.AssetsDefinition) -> dict[str | None, dict]:
    """Each partition's (None: the table's) latest materialization metadata in the run."""
    return {
        event.partition: {k: v.value for k, v in event.metadata.items()}
        for event in result.asset_materializations_for_node(assets_def.op.name)
    }


def failure_message(result, steps_like: str = "") -> str | None:
    """The first step failure's one-line description (None for a successful run, or when the only failure is a
    blocking check: the check results say more); only of steps whose key contains ``steps_like`` when given."""
    for event in result.all_events:
        if event.is_step_failure and steps_like in event.step_key:
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                return data.user_failure_data.description
            message = data.error.message.strip().splitlines()[0] if data.error else "step failed"
            if "blocking asset check" in message:
                continue
            return message.split(": ", 1)[-1] if message.startswith("dagster.") else message
    return None if result.success or result.get_asset_check_evaluations() or steps_like else "run failed"


class Report:
    def __init__(self, units_total: int, limit: int | None, limited: tuple[str, ...] = ("rows per query",)):
        self.units_total, self.limit, self.limited = units_total, limit, limited
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

    def start(self, label: str) -> None:
        self._current, self._rows = label, {}
        self._refresh()

    def finish(self, outcomes: list[RunOutcome]) -> None:
        for outcome in outcomes:
            self._finish_one(outcome)

    def _finish_one(self, outcome: RunOutcome) -> None:
        self.outcomes.append(outcome)
        if outcome.failed_checks and not outcome.error:
            failed = ", ".join(c.check for c in outcome.failed_checks)
            line = f"CHECK   {outcome.table} {outcome.partition or '-'}: {failed} failed"
        elif outcome.success:
            rows = f"{outcome.rows_loaded or 0:,} rows in {outcome.seconds:.1f}s"
            line = f"ok      {outcome.table} {outcome.partition or '-'}: {rows}"
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
        for column in (
            "table",
            "partition",
            "rows extracted",
            "files",
            "bytes",
            "rows loaded",
            "seconds",
            "checks",
            "status",
        ):
            table.add_column(
                column, justify="right" if column not in ("table", "partition", "checks", "status") else "left"
            )
        for o in self.outcomes:
            checks = f"{len(o.checks) - len(o.failed_checks)}/{len(o.checks)} passed" if o.checks else "-"
            table.add_row(
                o.table,
                o.partition or "-",
                _n(o.rows_extracted),
                _n(o.files),
                _n(o.bytes),
                _n(o.rows_loaded),
                f"{o.seconds:.1f}",
                checks,
                "ok" if o.success and not o.failed_checks else "FAILED",
            )
        Console(width=120).print(table)
        failed = [o for o in self.outcomes if o.error]
        if self.limit:
            caps = " and ".join(f"{self.limit} {unit}" for unit in self.limited)
            click.echo(f"note: capped at {caps} (--limit); the warehouse holds a sample")
        for o in failed:
            click.echo(f"failed: {o.table} {o.partition or '-'}: {o.error}", err=True)
        for o in self.outcomes:
            for c in o.failed_checks:
                click.echo(f"check failed: {o.table} {o.partition or '-'}: {c.check} ({c.details})", err=True)


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
