"""``pipeline-assets``: the command line. Every command reads the same configuration as the Dagster code."""

import os
import sys

import click
import dagster as dg

from pipeline_assets.cli import aliases
from pipeline_assets.cli.check import check
from pipeline_assets.cli.files import files
from pipeline_assets.cli.ledger import ledger
from pipeline_assets.cli.stage import stage
from pipeline_assets.cli.sync import sync
from pipeline_assets.cli.ui import ui
from pipeline_assets.cli.watermark import watermark
from pipeline_assets.core.errors import PipelineError, first_line


class Commands(click.Group):
    """Prints a PipelineError (or Dagster's refusal of the definitions a config makes) as one line, exit 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, aliases.rewrite(args))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            click.echo(f"error: {exc}", err=True)
        except (dg.DagsterInvalidDefinitionError, dg.DagsterInvalidConfigError) as exc:
            click.echo(f"error: the configuration makes invalid Dagster definitions: {first_line(exc)}", err=True)
        sys.exit(2)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    envvar="PIPELINE_ASSETS_CONFIG",
    help="configuration file (default: $PIPELINE_ASSETS_CONFIG, else the embedded demo)",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Replicate database tables into warehouses through a Parquet stage, as Dagster assets."""
    ctx.obj = {"config_path": config_path}
    if config_path:
        os.environ["PIPELINE_ASSETS_CONFIG"] = os.path.abspath(config_path)


for command in (sync, check, watermark, stage, ledger, files, ui):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="pipeline-assets")
