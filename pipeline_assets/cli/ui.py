"""``ui``: the Dagster UI and daemon on the configuration's own instance, the one the CLI records its runs in."""

import os
import sys
from pathlib import Path

import click

from pipeline_assets.cli.context import use_instance
from pipeline_assets.project import config_path, load_project


@click.command()
@click.option(
    "-h",
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="address the webserver listens on",
)
@click.option(
    "-p",
    "--port",
    default=3000,
    show_default=True,
    type=int,
    help="port the webserver listens on",
)
@click.pass_obj
def ui(obj, host: str, port: int) -> None:
    """Start `dagster dev` (webserver and daemon: backfills, schedules, sensors) on this configuration's instance."""
    load_project(obj["config_path"])  # a bad config is one line here, not a code location error in the UI
    dagster_home = use_instance(obj["config_path"])
    path = config_path(obj["config_path"])
    click.echo(
        f"Dagster UI on http://{host}:{port} for {path or 'the embedded demo'}, instance {dagster_home}",
        err=True,
    )
    dagster = str(Path(sys.executable).with_name("dagster"))
    os.execv(
        dagster,
        [
            dagster,
            "dev",
            "-m",
            "pipeline_assets.definitions",
            "-h",
            host,
            "-p",
            str(port),
        ],
    )
