"""A table's corner of the stage together with its ledger: what the ``stage``/``ledger`` commands and the
housekeeping sensors act on."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipeline_assets.config import ProjectConfig, TableConfig
from pipeline_assets.config.durations import parse_duration
from pipeline_assets.core.records import LedgerRecord
from pipeline_assets.core.store import StageStore
from pipeline_assets.core.target import TargetTable
from pipeline_assets.stage.lifecycle import Entry, RunStatus, survey
from pipeline_assets.warehouses import Warehouse


@dataclass
class TableStage:
    name: str
    prefix: str
    target: TargetTable
    store: StageStore
    warehouse: Warehouse
    grace: timedelta

    def records(self, partition: str | None = None, statuses: list[str] | None = None) -> list[LedgerRecord]:
        with self.warehouse.ledger() as ledger:
            return ledger.records(self.target, partition=partition, statuses=statuses, stage_table=self.prefix)

    def entries(self, run_status: RunStatus, now: datetime | None = None) -> list[Entry]:
        return survey(self.store, self.prefix, self.records(), run_status, now or datetime.now(UTC), self.grace)

    def partition_of(self, entry: Entry) -> str:
        """The partition folder ``entry`` lies in (``full`` for an unpartitioned table)."""
        return entry.key.removeprefix(self.prefix + "/").split("/", 1)[0]

    def forget(self, entries: list[Entry]) -> None:
        """Mark deleted files ``deleted`` in the ledger (their rows, if loaded, stay in the target)."""
        uris = [e.uri for e in entries if e.kind == "file"]
        if uris:
            with self.warehouse.ledger() as ledger:
                ledger.set_status(self.target, uris, "deleted")


def table_stage(table: TableConfig, project: ProjectConfig, store: StageStore, warehouse: Warehouse) -> TableStage:
    return TableStage(
        table.asset_name,
        project.stage_prefix(table),
        TargetTable(table.target_schema, table.target_name),
        store,
        warehouse,
        parse_duration(project.stage.orphan_grace),
    )


def run_status_lookup(instance: dg.DagsterInstance) -> RunStatus:
    """Run id → status name from the Dagster instance (cached; None for runs it does not know)."""
    cache: dict[str, str | None] = {}

    def status(run_id: str) -> str | None:
        if run_id not in cache:
            run = instance.get_run_by_id(run_id)
            cache[run_id] = run.status.value if run else None
        return cache[run_id]

    return status
