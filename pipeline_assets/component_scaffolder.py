"""What ``dg scaffold defs pipeline_assets.ReplicationComponent <path>`` writes: a defs.yaml and a replication file."""

import dagster as dg

REPLICATION_FILE = "replication.yaml"

EXAMPLE = """\
# The replication that defs.yaml next to this file points at: the keys of a pipeline_assets configuration file
# (see the pipeline_assets README, "Configuration reference"). Relative paths are resolved against this folder.
# Secrets are never written here: write ${ENV_VAR} and set the variable.
connections:
  source:                       # any name; tables refer to it
    kind: sqlite                # postgres, mysql, sqlite, duckdb, snowflake, files
    path: source.sqlite
    # kind: postgres
    # host: db.internal
    # user: replicator
    # password: ${SOURCE_PASSWORD}
    # database: shop
  warehouse:
    kind: duckdb                # postgres, duckdb, snowflake, redshift
    path: warehouse.duckdb
stage:
  url: stage                    # a local folder, or s3://bucket/prefix
  format: parquet
tables:
  - source: source
    table: orders               # [schema.]table in the source
    target: warehouse           # lands in source.orders unless target_table says otherwise
    cursor: ordered_at          # the timestamp column that places a row in a daily partition
    partitioning: daily
    start_date: 2026-01-01
    primary_key: [id]
  - source: source
    table: customers            # no partitioning: reloaded whole by each run
    target: warehouse
schedule:                       # the daily jobs' UTC time; a tick loads the previous day
  hour: 0
  minute: 30
"""


class ReplicationScaffolder(dg.Scaffolder):
    """Writes defs.yaml with ``config: replication.yaml`` and an example replication.yaml to edit."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(request, {"config": REPLICATION_FILE})
        (request.target_path / REPLICATION_FILE).write_text(EXAMPLE)
