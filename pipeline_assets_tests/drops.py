"""Helpers for the autoloader's tests: a files table over a bucket of the S3 test server, files to drop into it,
and the sensor ticked (and its runs launched) until it has nothing left to ask for."""

import io

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline_assets_tests.conftest import pg_connection
from pipeline_assets_tests.runs import failure, launch, tick

SENSOR = "autoload_events"


def files_body(server, bucket: str, tmp_path, target: str = "dw", **files) -> dict:
    drops = {
        "kind": "files",
        "url": f"s3://{bucket}/landing",
        "s3": {
            "endpoint_url": server.endpoint_url,
            "access_key_id": "${PA_TEST_S3_KEY_ID}",
            "secret_access_key": "${PA_TEST_S3_SECRET}",
        },
    }
    return {
        "connections": {"drops": drops, "dw": pg_connection(), "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
        "stage": {"url": str(tmp_path / "stage")},
        "tables": [
            {
                "source": "drops",
                "table": "events",
                "target": target,
                "files": {"pattern": "events/**/*.csv", "format": "csv", **files},
            }
        ],
    }


def csv_file(first: int, rows: int) -> bytes:
    return ("id,name,amount\n" + "".join(f"{i},name {i},{i}.25\n" for i in range(first, first + rows))).encode()


def parquet_file(first: int, rows: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(
        pa.table({"id": list(range(first, first + rows)), "name": [f"n{i}" for i in range(first, first + rows)]}), sink
    )
    return sink.getvalue()


def pg_value(pg, schema: str, sql: str = "count(*)", table: str = "events"):
    with pg.cursor() as cur:
        cur.execute(f'SELECT {sql} FROM "{schema}"."{table}"')
        return cur.fetchone()[0]


def source_records(pg, schema: str) -> list[tuple]:
    with pg.cursor() as cur:
        cur.execute(
            "SELECT file_uri, status, attempts, rows, error FROM _pipeline_assets.loaded_files "
            "WHERE origin = 'source' AND target_table = %s ORDER BY file_uri, updated_at",
            [f"{schema}.events"],
        )
        return cur.fetchall()


def tick_until_quiet(assembly, instance, cursor=None, busy=lambda: False) -> tuple[str | None, list]:
    """Tick and launch until a tick requests nothing and ``busy`` says no more files are coming."""
    results = []
    for _ in range(200):
        evaluation = tick(assembly, SENSOR, instance, cursor)
        cursor = evaluation.cursor
        results += launch(assembly, SENSOR, instance, evaluation.run_requests)
        if not evaluation.run_requests and not busy():
            return cursor, results
    raise AssertionError(f"the sensor kept asking for runs: {[failure(r) for r in results if not r.success][:3]}")
