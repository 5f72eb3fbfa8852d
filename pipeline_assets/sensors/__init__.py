"""Sensors: stage housekeeping and the autoloader's discovery."""

import dagster as dg

# Runs that may still write: queued or going.
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
