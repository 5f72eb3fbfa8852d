"""The stage: rolling files, CSV, S3 through a real S3 server, manifests, and errors that name the stage."""

import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline_assets.config import StageConfig
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.resources import StageResource
from pipeline_assets.stage.local import LocalStore
from pipeline_assets.stage.staging import latest_manifest
from pipeline_assets.stage.writer import RollingWriter
from pipeline_assets_tests.conftest import pg_connection, project, s3_stage
from pipeline_assets_tests.runs import failure, metadata, run_table


def _batches(n: int, rows: int = 10_000):
    for b in range(n):
        ids = pa.array(range(b * rows, (b + 1) * rows), pa.int64())
        yield pa.RecordBatch.from_arrays([ids, pa.array([f"row {i} ✓" for i in ids.to_pylist()])], names=["id", "text"])


def test_rolling_writer_starts_a_new_file_past_the_target_size(tmp_path):
    store = LocalStore(tmp_path)
    schema = next(_batches(1)).schema
    writer = RollingWriter(
        store,
        schema,
        key_for=lambda n: f"t/part{n}.parquet",
        file_format="parquet",
        compression="snappy",
        target_bytes=100_000,
    )
    for batch in _batches(10):
        writer.write(batch)
    files = writer.close()
    assert len(files) > 2 and sum(f.rows for f in files) == 100_000
    assert [f.key for f in files] == [f"t/part{n}.parquet" for n in range(len(files))]
    assert all(pq.ParquetFile(store.uri(f.key)).metadata.num_rows == f.rows for f in files)
    assert not list(tmp_path.rglob("*.partial")), "only complete files are published"


def test_an_aborted_write_leaves_no_partial_file(tmp_path):
    writer = RollingWriter(
        LocalStore(tmp_path),
        next(_batches(1)).schema,
        key_for=lambda n: f"t/{n}.parquet",
        file_format="parquet",
        compression="snappy",
        target_bytes=2**20,
    )
    writer.write(next(_batches(1)))
    writer.abort()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_latest_manifest_prefers_the_producing_run_then_the_newest(tmp_path):
    store = LocalStore(tmp_path)
    with pytest.raises(PipelineError, match="nothing staged for src/s_t partition 2026-01-01"):
        latest_manifest(store, "src/s_t", "2026-01-01")
    for run in ("run_20260101_000000_aaa", "run_20260102_000000_bbb"):
        store.write_bytes(f"src/s_t/2026-01-01/{run}/_manifest.json", _manifest_json(run))
    assert latest_manifest(store, "src/s_t", "2026-01-01").run_id == "run_20260102_000000_bbb"
    assert latest_manifest(store, "src/s_t", "2026-01-01", prefer_run="aaa").run_id == "run_20260101_000000_aaa"


def _manifest_json(run: str) -> bytes:
    schema = pa.schema([pa.field("id", pa.int64())])
    from pipeline_assets.core.manifest import Manifest

    return Manifest("src", "src/s_t", "2026-01-01", run, "parquet", "x", (), schema).to_json().encode()


def test_csv_stage_loads_postgres_and_duckdb(pg, pg_schema, wh_schema, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {pg_schema}.t (id int, amount numeric(8,2), note text, at timestamptz, js jsonb)")
        cur.execute(f"""INSERT INTO {pg_schema}.t VALUES (1, 1.50, 'comma, "quote"', '2026-01-01 10:00+00', '{{"a": 1}}'),
                        (2, NULL, NULL, NULL, NULL), (3, -2.25, E'line\\nbreak', '2026-01-01 23:59:59.999999+00', '[]')""")
    config = project(
        tmp_path,
        {
            "connections": {
                "app": pg_connection(),
                "dw": pg_connection(),
                "duck": {"kind": "duckdb", "path": "dw.duckdb"},
            },
            "stage": {"url": "stage", "format": "csv"},
            "tables": [
                {"source": "app", "table": f"{pg_schema}.t", "target": "dw", "target_table": f"{wh_schema}.t"},
                {"source": "app", "table": f"{pg_schema}.t", "target": "duck", "name": "t_duck"},
            ],
        },
    )
    assert run_table(config, instance, "t").success and run_table(config, instance, "t_duck").success
    assert list((tmp_path / "stage").rglob("*.csv"))
    with pg.cursor() as cur:
        cur.execute(f"SELECT id, amount, note, at, js FROM {pg_schema}.t ORDER BY id")
        expected = cur.fetchall()
        cur.execute(f"SELECT id, amount, note, at, js FROM {wh_schema}.t ORDER BY id")
        assert cur.fetchall() == expected
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        rows = conn.execute("SELECT id, amount, note, js FROM app.t_duck ORDER BY id").fetchall()
    assert [(r[0], r[1], r[2], json.loads(r[3]) if r[3] else None) for r in rows] == [
        (e[0], e[1], e[2], e[4]) for e in expected
    ]


def test_csv_refuses_binary_columns(pg, pg_schema, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {pg_schema}.b (id int, payload bytea)")
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
            "stage": {"url": "stage", "format": "csv"},
            "tables": [{"source": "app", "table": f"{pg_schema}.b", "target": "duck"}],
        },
    )
    result = run_table(config, instance, "b")
    assert not result.success
    assert "column 'payload' is binary, which CSV cannot carry faithfully; stage as parquet" in failure(result)


def test_s3_stage_wrong_secret_names_the_stage_and_hides_the_secret(
    pg, pg_schema, s3_server, s3_bucket, instance, tmp_path, monkeypatch
):
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {pg_schema}.t AS SELECT 1 AS id")
    monkeypatch.setenv("PA_TEST_S3_SECRET", "not-the-secret-xyz")
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
            "stage": s3_stage(s3_server, s3_bucket),
            "tables": [{"source": "app", "table": f"{pg_schema}.t", "target": "duck"}],
        },
    )
    result = run_table(config, instance, "t")
    message = failure(result)
    assert f"stage: cannot upload s3://{s3_bucket}/staging/app/" in message and "SignatureDoesNotMatch" in message
    assert "not-the-secret-xyz" not in message
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0


def test_s3_stage_round_trip_and_metadata(pg, pg_schema, s3_server, s3_bucket, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {pg_schema}.t AS SELECT g AS id, md5(g::text) AS h FROM generate_series(1, 50000) g")
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
            "stage": s3_stage(s3_server, s3_bucket, target_file_mb=0.5),
            "tables": [{"source": "app", "table": f"{pg_schema}.t", "target": "duck"}],
        },
    )
    result = run_table(config, instance, "t")
    assert result.success
    staged = metadata(result, ["stage", "app", "t"])
    loaded = metadata(result, ["duck", "app", "t"])
    assert staged["rows_extracted"] == loaded["rows_loaded"] == 50_000 and staged["files"] == loaded["files"] > 1
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert (
        sum(k.endswith(".parquet") for k in keys) == staged["files"]
        and sum(k.endswith("_manifest.json") for k in keys) == 1
    )
    assert staged["stage_path"].startswith(f"s3://{s3_bucket}/staging/app/{pg_schema}_t/full/run_")
    resource = StageResource.from_config(StageConfig(url=f"s3://{s3_bucket}/staging"))
    assert resource.store().uri("k") == f"s3://{s3_bucket}/staging/k"


def test_warehouse_asset_alone_loads_the_newest_complete_staging_run(pg, pg_schema, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {pg_schema}.t (id int, at timestamp)")
        cur.execute(f"INSERT INTO {pg_schema}.t VALUES (1, '2026-01-01 01:00'), (2, '2026-01-01 02:00')")
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
            "tables": [
                {
                    "source": "app",
                    "table": f"{pg_schema}.t",
                    "target": "duck",
                    "cursor": "at",
                    "partitioning": "daily",
                    "start_date": "2026-01-01",
                }
            ],
        },
    )
    assert run_table(config, instance, "t", "2026-01-01", only="staged").success
    with pg.cursor() as cur:
        cur.execute(f"INSERT INTO {pg_schema}.t VALUES (3, '2026-01-01 03:00')")
    assert run_table(config, instance, "t", "2026-01-01", only="staged").success
    unfinished = tmp_path / "stage" / "app" / f"{pg_schema}_t" / "2026-01-01" / "run_29990101_000000_killed"
    unfinished.mkdir()  # a newer run folder without a manifest never completed, so it is ignored
    (unfinished / f"{pg_schema}_t_2026-01-01_batch0000.parquet").write_bytes(b"half-written")
    result = run_table(config, instance, "t", "2026-01-01", only="loaded")
    assert result.success
    assert metadata(result, ["duck", "app", "t"])["rows_loaded"] == 3
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM app.t").fetchone() == (3,)


def test_s3_objects_are_encrypted_and_the_preflight_warns_or_refuses(
    pg, pg_schema, s3_server, s3_bucket, instance, tmp_path
):
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {pg_schema}.t AS SELECT 1 AS id")
    body = {
        "connections": {"app": pg_connection(), "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
        "stage": s3_stage(s3_server, s3_bucket),
        "tables": [{"source": "app", "table": f"{pg_schema}.t", "target": "duck"}],
    }
    client = s3_server.client()
    strict = run_table(project(tmp_path, {**body, "stage": {**body["stage"], "preflight": "strict"}}), instance, "t")
    assert failure(strict) == (
        f"stage: s3://{s3_bucket}/staging fails the strict preflight: its public-access block cannot "
        "be read (NotImplemented); it has no default encryption; its versioning is off (a staged file deleted or "
        "overwritten by mistake is gone); nothing was written"
    )
    assert client.list_objects_v2(Bucket=s3_bucket).get("KeyCount") == 0

    client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_encryption(
        Bucket=s3_bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    warned = run_table(project(tmp_path, body), instance, "t")
    assert warned.success
    warnings = [r.user_message for r in instance.all_logs(warned.run_id) if "preflight" in (r.user_message or "")]
    assert warnings == [
        f"stage s3://{s3_bucket}/staging: its public-access block cannot be read (NotImplemented) "
        "(stage.preflight: strict refuses to stage here)"
    ]
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys and all(client.head_object(Bucket=s3_bucket, Key=k)["ServerSideEncryption"] == "AES256" for k in keys)
