"""The IO manager that hands a staged asset's manifests to its warehouse asset.

The staged asset writes its files and manifests into the stage itself; what passes between the two assets is
only which manifest each day's load takes: the one the same run wrote, else the newest complete one (a load-only
run of days staged earlier)."""

import dagster as dg

from pipeline_assets.assets.failures import user_errors
from pipeline_assets.core import layout
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import Manifest
from pipeline_assets.resources import StageResource
from pipeline_assets.stage.staging import latest_manifest

# Definition metadata of a staged asset: where its table's files live in the stage.
STAGE_PREFIX_KEY = "stage_prefix"

Staged = dict[str, Manifest]  # partition key ("full" when unpartitioned) -> its staging run's manifest


class StageIOManager(dg.ConfigurableIOManager):
    """Passes manifests (file URIs, row counts, schema), never rows, from a staged asset to its warehouse asset,
    one per partition of the run: a range run's load gets each of its days' manifests."""

    stage: dg.ResourceDependency[StageResource]

    def handle_output(self, context: dg.OutputContext, obj: Staged) -> None:
        """Nothing to write: every manifest is in the stage already, written last by the staging step."""

    def load_input(self, context: dg.InputContext) -> Staged:
        with user_errors():
            upstream = context.upstream_output
            if upstream is None:
                raise PipelineError(f"{context.asset_key.to_user_string()}: no staged asset feeds this input")
            table_prefix = upstream.definition_metadata[STAGE_PREFIX_KEY]
            days = list(context.asset_partition_keys) if context.has_asset_partitions else [layout.UNPARTITIONED]
            try:
                producing_run = upstream.run_id
            except dg.DagsterInvariantViolationError:  # staged by an earlier run: take the latest complete one
                producing_run = None
            store = self.stage.store()
            return {day: latest_manifest(store, table_prefix, day, prefer_run=producing_run) for day in days}
