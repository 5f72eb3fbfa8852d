"""``ReplicationComponent``: the replication as a Dagster component, for ``defs.yaml`` in any ``dg`` project."""

from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from pydantic import Field

from pipeline_assets.assembly import assemble
from pipeline_assets.component_scaffolder import ReplicationScaffolder
from pipeline_assets.config import ProjectConfig, load_config, parse_config
from pipeline_assets.config.loader import relative_to
from pipeline_assets.core.errors import ConfigError
from pipeline_assets.project import load_project

INLINE_KEYS = ("connections", "stage", "tables", "schedule")


@dg.scaffold_with(ReplicationScaffolder)
class ReplicationComponent(dg.Component, dg.Resolvable, dg.Model):
    """Replicates database tables into a warehouse through a Parquet stage.

    Each table becomes a stage asset and a warehouse asset (daily partitions where configured) with checks against
    the source; each source gets daily jobs and schedules, and the stage gets housekeeping sensors.

    Give either ``config``, the path of a replication YAML file (relative to this defs.yaml), or the same keys
    inline: ``connections``, ``stage``, ``tables``, ``schedule``. With neither, the file named by
    $PIPELINE_ASSETS_CONFIG is used, else the embedded demo.
    """

    config: str | None = Field(
        default=None, description="replication YAML file (connections, stage, tables, schedule), relative to defs.yaml"
    )
    connections: dict[str, dict[str, Any]] | None = Field(
        default=None, description="inline: the databases used as sources and warehouses, by name"
    )
    stage: dict[str, Any] | None = Field(default=None, description="inline: where the Parquet files are staged")
    tables: list[dict[str, Any]] | None = Field(default=None, description="inline: the tables to replicate")
    schedule: dict[str, Any] | None = Field(default=None, description="inline: UTC hour and minute of the daily runs")

    def project(self, folder: Path) -> ProjectConfig:
        """The validated replication; relative paths resolve against ``folder`` (the defs.yaml's)."""
        origin = f"ReplicationComponent in {folder}"
        inline = {key: getattr(self, key) for key in INLINE_KEYS if key in self.model_fields_set}
        if "config" in self.model_fields_set:
            if inline:
                raise ConfigError(f"{origin}: give config or the inline {', '.join(inline)}, not both")
            if not self.config:
                raise ConfigError(f"{origin}: config is empty (an unset environment variable?)")
            return load_config(folder / self.config)
        if inline:
            text = yaml.safe_dump(inline, sort_keys=False)  # parse_config expands ${VAR} and words errors in one line
            return relative_to(parse_config(text, origin=origin), folder)
        return load_project()

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return assemble(self.project(context.path)).definitions
