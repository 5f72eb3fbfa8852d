"""What every command needs: the project, its Dagster definitions and the Dagster instance."""

import os
from dataclasses import dataclass
from pathlib import Path

import click
import dagster as dg

from pipeline_assets.config import ProjectConfig
from pipeline_assets.project import config_path, home, load_project


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
    if not os.environ.get("DAGSTER_HOME"):
        dagster_home = home() / "dagster_home"
        dagster_home.mkdir(parents=True, exist_ok=True)
        os.environ["DAGSTER_HOME"] = str(dagster_home)
        click.echo(f"DAGSTER_HOME not set: recording runs in {dagster_home}", err=True)
    instance_config = Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml"
    if not instance_config.exists():
        instance_config.parent.mkdir(parents=True, exist_ok=True)
        instance_config.write_text("# Dagster instance settings (storage defaults to this folder); see dagster.yaml.example.\n")
    return CommandContext(project, dg.DagsterInstance.get())
