"""``on_error``: a corrupt staged file aborts the load (nothing changes) or, with ``skip_file``, is left out and
recorded in the ledger with its error while the other files load (and the row-count check says the partition
is short); fixed, it loads on the next run.
PostgreSQL undoes a failed file with a savepoint; DuckDB and Redshift (no savepoints; Redshift's stand-in emulates
only its COPY, see redshift_emulator.py) read each file through first.
Snowflake's native ON_ERROR results are mapped from its COPY result rows (fakesnow runs only ABORT_STATEMENT)."""

from pathlib import Path

import duckdb
import pytest

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.manifest import StagedFile
from pipeline_assets.warehouses.snowflake import _outcomes
from pipeline_assets_tests.conftest import pg_connection, project, s3_stage
from pipeline_assets_tests.redshift_emulator import redshift_connection
from pipeline_assets_tests.runs import failure, metadata, run_table

DAY = "2026-04-01"


class _Stage:
    """The staged files of the test, in a local folder or (for Redshift, which reads S3 only) the S3 server."""

    def __init__(self, request, warehouse: str, tmp_path: Path):
        self.s3 = warehouse == "redshift"
        if self.s3:
            request.getfixturevalue("redshift")
            self.server, self.bucket = request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket")
            self.config = s3_stage(self.server, self.bucket, target_file_mb=0.01)
        else:
            self.config = {"url": str(tmp_path / "stage"), "target_file_mb": 0.01}

    def files(self, folder: str) -> list[str]:
        if not self.s3:
            return sorted(str(p) for p in Path(folder).glob("*.parquet"))
        prefix = folder.removeprefix(f"s3://{self.bucket}/") + "/"
        listed = self.server.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)["Contents"]
        return sorted(o["Key"] for o in listed if o["Key"].endswith(".parquet"))

    def read(self, name: str) -> bytes:
        if not self.s3:
            return Path(name).read_bytes()
        return self.server.client().get_object(Bucket=self.bucket, Key=name)["Body"].read()

    def write(self, name: str, body: bytes) -> None:
        if self.s3:
            self.server.client().put_object(Bucket=self.bucket, Key=name, Body=body)
        else:
            Path(name).write_bytes(body)


def _setup(pg, pg_schema: str, tmp_path: Path, warehouse: str, wh_schema: str, on_error: str, stage: _Stage):
    targets = {
        "postgres": pg_connection(),
        "duckdb": {"kind": "duckdb", "path": str(tmp_path / "dw.duckdb")},
        "redshift": redshift_connection(),
    }
    return project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "dw": targets[warehouse]},
            "stage": stage.config,
            "tables": [
                {
                    "source": "app",
                    "table": f"{pg_schema}.events",
                    "target": "dw",
                    "target_table": f"{wh_schema}.events",
                    "name": "events",
                    "cursor": "at",
                    "partitioning": "daily",
                    "start_date": DAY,
                    "on_error": on_error,
                }
            ],
        },
    )


def _count(pg, tmp_path: Path, warehouse: str, wh_schema: str) -> int | None:
    sql = f'SELECT count(*) FROM "{wh_schema}".events'
    if warehouse in ("postgres", "redshift"):
        with pg.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (f'"{wh_schema}".events',))
            if cur.fetchone()[0] is None:
                return None
            cur.execute(sql)
            return cur.fetchone()[0]
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        known = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ?", [wh_schema]
        ).fetchone()[0]
        return conn.execute(sql).fetchone()[0] if known else None


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb", "redshift"])
def test_a_corrupt_file_aborts_or_is_skipped_and_recorded(
    warehouse, request, pg, pg_schema, wh_schema, instance, tmp_path
):
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".events AS SELECT g AS id, timestamp '{DAY}' + g * interval '10 seconds' AS at,
                        repeat('x', 40) || g AS payload FROM generate_series(0, 5999) g""")
    stage = _Stage(request, warehouse, tmp_path)
    config = _setup(pg, pg_schema, tmp_path, warehouse, wh_schema, "abort", stage)
    staged = run_table(config, instance, "events", DAY, only="staged")
    assert staged.success, failure(staged)
    files = stage.files(metadata(staged, ["stage", "app", "events"])["stage_path"])
    assert len(files) >= 3
    bad, original = files[1], stage.read(files[1])
    stage.write(bad, original[: len(original) // 2])  # a half-written file
    bad_name = bad.rsplit("/", 1)[1]

    aborted = run_table(config, instance, "events", DAY, only="loaded")
    assert not aborted.success
    message = failure(aborted)
    assert "\n" not in message and bad_name in message, message
    assert _count(pg, tmp_path, warehouse, wh_schema) in (None, 0), "an aborted load writes nothing"

    config = _setup(pg, pg_schema, tmp_path, warehouse, wh_schema, "skip_file", stage)
    skipped = run_table(config, instance, "events", DAY, only="loaded")
    # the good files are committed; the row-count check then fails the run: source and target do not agree
    assert not skipped.success and "rows_match_source" in failure(skipped)
    loaded = metadata(skipped, ["dw", wh_schema, "events"])
    assert loaded["files_rejected"] == 1 and bad_name in loaded["rejected_files"]
    assert 0 < loaded["rows_loaded"] == _count(pg, tmp_path, warehouse, wh_schema) < 6000
    records = _ledger(config, wh_schema)
    uri = next(u for u in records if u.endswith("/" + bad_name))
    assert records[uri][0] == "skipped" and bad_name in records[uri][1], records

    stage.write(bad, original)  # fixed: the next load of the partition takes every file
    again = run_table(config, instance, "events", DAY, only="loaded")
    assert again.success, failure(again)
    assert _count(pg, tmp_path, warehouse, wh_schema) == 6000
    assert {status for status, _ in _ledger(config, wh_schema).values()} == {"loaded"}


def _ledger(config, wh_schema: str) -> dict[str, tuple]:
    from pipeline_assets.core.target import TargetTable
    from pipeline_assets.resources import DatabaseResource

    warehouse = DatabaseResource.from_config("dw", config.connections["dw"]).warehouse()
    with warehouse.ledger() as ledger:
        return {r.file_uri: (r.status, r.error) for r in ledger.records(TargetTable(wh_schema, "events"))}


def test_snowflake_copy_results_become_outcomes_per_on_error():
    files = [StagedFile(f"k/{n}", f"s3://b/k/{n}", 10, 100, "e") for n in ("a.parquet", "b.parquet", "c.parquet")]
    rows = [
        ("s3://b/k/a.parquet", "LOADED", 10, 10, 1, 0, None, None, None, None),
        (
            "s3://b/k/b.parquet",
            "PARTIALLY_LOADED",
            10,
            7,
            10,
            3,
            "Numeric value 'x' is not recognized",
            4,
            1,
            '"T"["Q":2]',
        ),
        ("s3://b/k/c.parquet", "LOAD_FAILED", 10, 0, 1, 1, "Invalid parquet file", None, None, None),
    ]
    outcomes = _outcomes(files, rows, "continue")
    assert [(o.status, o.rows_loaded, o.error) for o in outcomes] == [
        ("loaded", 10, None),
        ("partially_loaded", 7, "Numeric value 'x' is not recognized"),
        ("skipped", 0, "Invalid parquet file"),
    ]
    with pytest.raises(PipelineError, match=r"s3://b/k/c.parquet: Invalid parquet file"):
        _outcomes(files[2:], rows[2:], "abort")
    with pytest.raises(PipelineError, match=r"s3://b/k/a.parquet: COPY INTO returned no result"):
        _outcomes(files[:1], rows[1:], "skip_file")
