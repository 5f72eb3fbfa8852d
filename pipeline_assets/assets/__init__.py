"""Assets (Dagster layer): the factory that turns a configured table into its staged and warehouse assets, a day's
extraction and load, checks, jobs and schedules, and the IO manager that hands manifests between the two assets.

Imports the engine (``core``, ``config``, ``sources``, ``stage``, ``warehouses``) and ``resources``; never ``sensors``,
``autoload`` or anything above."""
