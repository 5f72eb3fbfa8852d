"""The autoloader (Dagster layer): tables fed by files that other systems drop into S3 or a folder, each file
version loaded once: their assets, discovery sensor, per-file staging, checks, reprocessing recipes and jobs.

Imports the engine, ``resources``, ``assets`` and ``sensors``; nothing imports it but the assembly and the CLI."""
