"""The stand-ins can say no: known-breaking edits to the statements the warehouses send make an end-to-end load
through the stand-in fail (and the unedited statement loads). Redshift part: the COPY text."""

from collections.abc import Callable

import pytest

from pipeline_assets.warehouses import redshift as redshift_module
from pipeline_assets.warehouses.redshift_copy import copy_statement
from pipeline_assets_tests.conftest import pg_connection, project, s3_stage
from pipeline_assets_tests.redshift_emulator import query, redshift_connection
from pipeline_assets_tests.runs import failure, run_table

pytestmark = pytest.mark.stand_in

DAY = "2026-01-01"

MUTATIONS: dict[str, tuple[str, Callable[[str], str], str]] = {
    "unmutated parquet": ("parquet", lambda sql: sql, ""),
    "unmutated csv": ("csv", lambda sql: sql, ""),
    "csv without IGNOREHEADER 1": (
        "csv",
        lambda sql: sql.replace(" IGNOREHEADER 1", ""),
        "batch0000.csv line 1, column id: Invalid digit, Value 'i', Pos 0, Type: Integer",
    ),
    "parquet read as CSV": (
        "parquet",
        lambda sql: sql.replace("FORMAT AS PARQUET", "FORMAT AS CSV"),
        "batch0000.parquet line 1",
    ),
    "parquet without MANIFEST": (
        "parquet",
        lambda sql: sql.removesuffix(" MANIFEST"),
        ".manifest is not a Parquet file",
    ),
    "csv without MANIFEST": ("csv", lambda sql: sql.removesuffix(" MANIFEST"), ".manifest line 2"),
    "an option the emulator does not implement": (
        "parquet",
        lambda sql: sql + " COMPUPDATE OFF",
        "the emulator does not implement COMPUPDATE, OFF",
    ),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_a_broken_copy_statement_fails_the_load(
    name, pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, instance, tmp_path, monkeypatch
):
    stage_format, mutate, reason = MUTATIONS[name]
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".events AS SELECT g AS id, timestamp '{DAY}' + g * interval '1 minute'
                        AS at, md5(g::text) AS note FROM generate_series(1, 500) g""")
    monkeypatch.setattr(redshift_module, "copy_statement", lambda *args: mutate(copy_statement(*args)))
    table = {"source": "app", "table": f"{pg_schema}.events", "target": "rs", "target_table": f"{wh_schema}.events"}
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "rs": redshift_connection()},
            "stage": s3_stage(s3_server, s3_bucket, format=stage_format),
            "tables": [{**table, "cursor": "at", "partitioning": "daily", "start_date": DAY}],
        },
    )
    result = run_table(config, instance, "events", DAY)
    assert redshift.copies, "the load reached the COPY"
    if name.startswith("unmutated"):
        assert result.success, failure(result)
        assert query(pg, f'SELECT count(*) FROM "{wh_schema}".events') == [(500,)]
    else:
        assert not result.success, f"{name}: the stand-in loaded {redshift.copies[-1]['sql']}"
        assert reason in failure(result)
        target = query(pg, "SELECT to_regclass(%s)", (f'"{wh_schema}".events',))[0][0]
        assert target is None or query(pg, f'SELECT count(*) FROM "{wh_schema}".events') == [(0,)]
