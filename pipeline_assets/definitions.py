"""The Dagster entry point: this project's own code location is the ``ReplicationComponent`` without attributes,
reading $PIPELINE_ASSETS_CONFIG (or the embedded demo)."""

import dagster as dg

from pipeline_assets.component import ReplicationComponent


@dg.definitions
def defs() -> dg.Definitions:
    """This code location: the component a user declares in defs.yaml, on $PIPELINE_ASSETS_CONFIG or the demo."""
    return dg.build_defs_for_component(ReplicationComponent())
