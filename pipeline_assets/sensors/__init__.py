"""Sensors (Dagster layer): stage housekeeping (cleanup after loads, orphans) and a table's corner of the stage.

Imports the engine, ``resources`` and ``assets``; the autoloader's own sensor lives in ``autoload``."""

import dagster as dg

# Runs that may still write: queued or going.
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
