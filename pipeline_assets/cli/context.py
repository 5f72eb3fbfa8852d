"""What every command needs: the project, its Dagster definitions and the Dagster instance."""

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import dagster as dg

from pipeline_assets.config import NetworkConnection, ProjectConfig, TableConfig, secret
from pipeline_assets.core.errors import ConfigError, PipelineError
from pipeline_assets.project import config_path, default_dagster_home, home, load_project
from pipeline_assets.resources import DatabaseResource, StageResource
from pipeline_assets.sensors.table_stage import TableStage, table_stage
from pipeline_assets.warehouses import Warehouse


@dataclass
class CommandContext:
    project: ProjectConfig
    instance: dg.DagsterInstance


def open_context(explicit_config: str | None) -> CommandContext:
    """Load the configuration (announcing the demo when there is none) and the instance under $DAGSTER_HOME,
    so that runs started here appear in the Dagster UI."""
    if config_path(explicit_config) is None:
        click.echo(f"No configuration given: using the embedded demo in {home()}", err=True)
    project = load_project(explicit_config)
    _check_secrets(project)
    use_instance(explicit_config)
    return CommandContext(project, dg.DagsterInstance.get())


def use_instance(explicit_config: str | None) -> Path:
    """Point $DAGSTER_HOME at the configuration's own instance unless it is set (saying so), and create the
    instance's dagster.yaml if missing; returns the folder."""
    if not os.environ.get("DAGSTER_HOME"):
        dagster_home = default_dagster_home(explicit_config)
        dagster_home.mkdir(parents=True, exist_ok=True)
        os.environ["DAGSTER_HOME"] = str(dagster_home)
        click.echo(
            f"DAGSTER_HOME not set: recording runs in {dagster_home} (this configuration's own instance)", err=True
        )
    instance_config = Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml"
    if not instance_config.exists():
        instance_config.parent.mkdir(parents=True, exist_ok=True)
        instance_config.write_text(
            "# Created by pipeline-assets (storage defaults to this folder); see dagster.yaml.example.\n"
            "# Telemetry stays off in an instance made on your behalf; delete these lines to opt in.\n"
            "telemetry:\n  enabled: false\n"
        )
    return instance_config.parent


def _check_secrets(project: ProjectConfig) -> None:
    """Every ${VAR} the tables need is set, so a missing one is one line here rather than a failed run."""
    used = {t.source for t in project.tables} | {t.target for t in project.tables}
    connections = [(name, project.connections[name]) for name in sorted(used)]
    references = [
        (f"connections.{name}.password", conn.password)
        for name, conn in connections
        if isinstance(conn, NetworkConnection)
    ]
    references += [
        (f"stage.s3.{field}", getattr(project.stage.s3, field)) for field in ("access_key_id", "secret_access_key")
    ]
    for where, reference in references:
        try:
            secret(reference)
        except PipelineError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def warehouse_for(project: ProjectConfig, table: TableConfig) -> Warehouse:
    """The table's target warehouse (its password read from the environment when it connects)."""
    return DatabaseResource.from_config(table.target, project.connections[table.target]).warehouse()


def table_stages(project: ProjectConfig, names: list[str] | None = None) -> list[TableStage]:
    """The named tables' corners of the stage (every table when ``names`` is None), with their ledgers."""
    store = StageResource.from_config(project.stage).store()
    tables = [project.table(n) for n in names] if names else list(project.tables)
    return [table_stage(t, project, store, warehouse_for(project, t)) for t in tables]


def confirm(question: str, force: bool, flag: str = "--force") -> None:
    """Ask on a terminal; elsewhere (scripts, CI) insist on ``flag``."""
    if force:
        return
    if not sys.stdin.isatty():
        raise PipelineError(f"{question} needs confirmation: pass {flag} when not on a terminal")
    if not click.confirm(question, default=False):
        raise PipelineError("cancelled")
