"""The stage (engine layer, no Dagster): the local and S3 stores, the rolling file writer, staging a partition into
files and its manifest (or recording the files a source unloaded), and the lifecycle states of staged objects.

Imports ``core`` and ``config`` only: never ``sources`` or ``warehouses``."""
