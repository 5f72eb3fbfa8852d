"""Where staged files live and what they are called: the one place that decides stage paths.

    <stage>/<source>/<schema>_<table>/<partition>/run_<YYYYmmdd_HHMMSS>_<run id>/   (path_strategy: unique)
    <stage>/<source>/<schema>_<table>/<partition>/fixed/                           (path_strategy: fixed)
        <schema>_<table>_<partition>_batch0000.parquet
        ...
        _manifest.json        (written last: a folder without it never completed)
        _redshift_<id>.manifest  (a Redshift COPY's list of the files it loaded, written by each such load)

A fixed folder is rewritten through ``incoming_<run id>/`` beside it, so the old files stay until the new set
is complete.
"""

from datetime import datetime

MANIFEST_NAME = "_manifest.json"
COPY_MANIFEST_PREFIX, COPY_MANIFEST_SUFFIX = "_redshift_", ".manifest"
UNPARTITIONED = "full"


def table_prefix(source: str, schema: str, table: str) -> str:
    return f"{source}/{schema}_{table}"


def run_prefix(table_prefix: str, partition: str, run_id: str, started: datetime) -> str:
    return f"{table_prefix}/{partition}/run_{started:%Y%m%d_%H%M%S}_{run_id}"


def file_key(
    run_prefix: str, table_prefix: str, partition: str, number: int, extension: str, kind: str = "batch"
) -> str:
    """``<run prefix>/<schema>_<table>_<partition>_batch<n>.<ext>`` (``_keys<n>`` for key lists): a file's name says
    what it holds."""
    return f"{run_prefix}/{table_prefix.rsplit('/', 1)[-1]}_{partition}_{kind}{number:04d}.{extension}"


def manifest_key(run_prefix: str) -> str:
    return f"{run_prefix}/{MANIFEST_NAME}"


def copy_manifest_key(run_prefix: str, token: str) -> str:
    return f"{run_prefix}/{COPY_MANIFEST_PREFIX}{token}{COPY_MANIFEST_SUFFIX}"


def is_manifest(key: str) -> bool:
    """Whether ``key`` is a run's own manifest or a COPY manifest beside it: bookkeeping that belongs to its
    folder's files (kept and deleted with them), never a staged file."""
    name = key.rsplit("/", 1)[-1]
    return name == MANIFEST_NAME or (name.startswith(COPY_MANIFEST_PREFIX) and name.endswith(COPY_MANIFEST_SUFFIX))


def partition_prefix(table_prefix: str, partition: str) -> str:
    return f"{table_prefix}/{partition}/"


def fixed_prefix(table_prefix: str, partition: str) -> str:
    return f"{table_prefix}/{partition}/fixed"


def incoming_prefix(table_prefix: str, partition: str, run_id: str) -> str:
    return f"{table_prefix}/{partition}/incoming_{run_id}"
