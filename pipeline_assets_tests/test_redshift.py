"""The Redshift warehouse through real Dagster runs. No Redshift emulator exists: everything but COPY runs on the local
PostgreSQL, and COPY itself is performed by ``redshift_emulator`` after checking the statement and the manifest it
reads from the real S3 server. The SSH tunnel goes through a real sshd."""

import threading
import time
from datetime import UTC, datetime

import psycopg2
import pytest

from pipeline_assets.assembly import assemble
from pipeline_assets.assets.incremental import FULL_REFRESH_TAG
from pipeline_assets.assets.launch import launch_in_process
from pipeline_assets.resources import StageResource
from pipeline_assets.sensors.table_stage import table_stage
from pipeline_assets.stage.lifecycle import DONE, delete, select
from pipeline_assets_tests.conftest import PG, pg_connection, project, s3_stage
from pipeline_assets_tests.redshift_emulator import EmulatedRedshift, execute, query, redshift_connection
from pipeline_assets_tests.runs import failure, metadata, run_table
from pipeline_assets_tests.sshd import sshd

pytestmark = pytest.mark.stand_in

DAY = "2026-01-01"


def _events(pg, schema: str, rows: int) -> None:
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{schema}".events AS SELECT g AS id, timestamp '{DAY}' + (g % 86400) * interval '1 second'
                        AS at, md5(g::text) AS note, (g % 1000) / 10.0::numeric(8,2) AS amount FROM generate_series(1, {rows}) g""")
        cur.execute(f'ALTER TABLE "{schema}".events ALTER COLUMN amount TYPE numeric(8,2)')


def _config(tmp_path, s3_server, s3_bucket, schema: str, wh_schema: str, stage_format: str = "parquet", **table):
    return project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "rs": redshift_connection()},
            "stage": s3_stage(s3_server, s3_bucket, target_file_mb=0.5, format=stage_format),
            "tables": [
                {
                    "source": "app",
                    "table": f"{schema}.events",
                    "target": "rs",
                    "target_table": f"{wh_schema}.events",
                    "cursor": "at",
                    "partitioning": "daily",
                    "start_date": DAY,
                    **table,
                }
            ],
        },
    )


def test_daily_replace_through_dagster_copies_exactly_the_ledgers_files(
    pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, instance, tmp_path
):
    _events(pg, pg_schema, 60_000)
    config = _config(tmp_path, s3_server, s3_bucket, pg_schema, wh_schema)
    first = run_table(config, instance, "events", DAY)
    assert first.success, failure(first)
    assert all(e.passed for e in first.get_asset_check_evaluations())
    staged = metadata(first, ["stage", "app", "events"])
    assert staged["files"] > 1
    (copy,) = redshift.copies
    loaded = query(
        pg,
        "SELECT file_uri FROM _pipeline_assets.loaded_files WHERE target_table = %s AND status = 'loaded'"
        " AND load_run_id = %s",
        (f"{wh_schema}.events", first.run_id),
    )
    assert sorted(copy["urls"]) == sorted(u for (u,) in loaded) and len(loaded) == staged["files"]
    assert copy["manifest"].startswith(str(staged["stage_path"]) + "/_redshift_")
    source = query(
        pg, f'SELECT count(*), sum(id), sum(amount) FROM "{pg_schema}".events WHERE at < %s', (f"{DAY} 24:00",)
    )
    assert query(pg, f'SELECT count(*), sum(id), sum(amount) FROM "{wh_schema}".events') == source
    columns = query(
        pg,
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns WHERE "
        "table_schema = %s AND table_name = 'events' ORDER BY ordinal_position",
        (wh_schema,),
    )
    assert columns == [
        ("id", "integer", None),
        ("at", "timestamp without time zone", None),
        ("note", "character varying", 65535),
        ("amount", "numeric", None),
    ]

    store = StageResource.from_config(config.stage).store()
    stage = table_stage(config.tables[0], config, store, EmulatedRedshift("rs", config.connections["rs"], None))
    entries = {e.key.rsplit("/", 1)[-1]: e for e in stage.entries(lambda run_id: "SUCCESS")}
    copy_manifest_entry = entries[copy["manifest"].rsplit("/", 1)[-1]]
    assert (copy_manifest_entry.kind, copy_manifest_entry.state) == ("manifest", DONE), (
        "it belongs to its run, not an orphan"
    )

    second = run_table(config, instance, "events", DAY)
    assert second.success, failure(second)
    assert metadata(second, ["rs", wh_schema, "events"])["rows_replaced"] == source[0][0]
    assert query(pg, f'SELECT count(*), sum(id), sum(amount) FROM "{wh_schema}".events') == source
    statuses = query(
        pg,
        "SELECT status, count(*) FROM _pipeline_assets.loaded_files WHERE target_table = %s GROUP BY 1 ORDER BY 1",
        (f"{wh_schema}.events",),
    )
    assert statuses == [("loaded", staged["files"]), ("superseded", staged["files"])]

    entries = stage.entries(lambda run_id: "SUCCESS")
    done = select(entries, states={DONE}, now=datetime.now(UTC))
    assert len(done) == len(entries) and sum(e.key.endswith(".manifest") for e in done) == 2
    delete(store, done)  # what the cleanup sensor's housekeeping run does
    assert not list(store.objects(stage.prefix + "/")), "the COPY manifests went with their runs' files"


def test_a_load_waits_for_the_lock_another_holds_on_its_target(
    pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, instance, tmp_path
):
    _events(pg, pg_schema, 2_000)
    config = _config(tmp_path, s3_server, s3_bucket, pg_schema, wh_schema)
    assert run_table(config, instance, "events", DAY).success
    holder = psycopg2.connect(**PG)  # another load's transaction, holding the target's lock
    with holder.cursor() as cur:
        cur.execute(f'LOCK TABLE "{wh_schema}".events')
    results = []
    loader = threading.Thread(target=lambda: results.append(run_table(config, instance, "events", DAY)))
    loader.start()
    deadline = time.monotonic() + 60
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pipeline_assets' AND wait_event_type = 'Lock' "
        "AND query LIKE 'LOCK TABLE%%'"
    )
    while query(pg, waiting) == [(0,)]:
        assert loader.is_alive() and time.monotonic() < deadline, "the load did not wait for the lock"
        time.sleep(0.05)
    holder.rollback()
    holder.close()
    loader.join(120)
    assert results[0].success, failure(results[0])
    assert query(pg, f'SELECT count(*) FROM "{wh_schema}".events') == [(2_000,)]


@pytest.mark.parametrize("stage_format", ["parquet", "csv"])
def test_append_run_again_skips_the_files_the_ledger_holds(
    stage_format, pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, instance, tmp_path
):
    _events(pg, pg_schema, 20_000)
    config = _config(
        tmp_path, s3_server, s3_bucket, pg_schema, wh_schema, write_mode="append", stage_format=stage_format
    )
    first = run_table(config, instance, "events", DAY)
    assert first.success, failure(first)
    again = run_table(config, instance, "events", DAY, only="loaded")  # the same staged files, loaded again
    assert again.success, failure(again)
    loaded = metadata(again, ["rs", wh_schema, "events"])
    assert (loaded["rows_loaded"], loaded["files_skipped"]) == (0, metadata(first, ["stage", "app", "events"])["files"])
    assert len(redshift.copies) == 1, "nothing left to copy: no COPY at all"
    assert redshift.copies[0]["sql"].endswith(
        "FORMAT AS PARQUET MANIFEST" if stage_format == "parquet" else "EMPTYASNULL MANIFEST"
    )
    assert query(pg, f'SELECT count(*), count(DISTINCT id) FROM "{wh_schema}".events') == [(20_000, 20_000)]


def test_incremental_merge_with_deletes(pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".items AS SELECT g AS id, 'n' || g AS name, g AS qty,
                        timestamptz '2026-01-01' + g * interval '1 second' AS updated_at FROM generate_series(1, 3000) g;
                        ALTER TABLE "{pg_schema}".items ADD PRIMARY KEY (id)""")
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "rs": redshift_connection()},
            "stage": s3_stage(s3_server, s3_bucket),
            "tables": [
                {
                    "source": "app",
                    "table": f"{pg_schema}.items",
                    "target": "rs",
                    "target_table": f"{wh_schema}.items",
                    "cursor": "updated_at",
                    "partitioning": "incremental",
                    "write_mode": "merge",
                    "primary_key": ["id"],
                    "delete_missing": True,
                }
            ],
        },
    )
    traffic = [
        "UPDATE {t} SET qty = qty + 1000, updated_at = now() WHERE id % 7 = 0",
        "INSERT INTO {t} SELECT id + 5000, 'new', 1, now() FROM {t} WHERE id <= 50",
        "DELETE FROM {t} WHERE id % 11 = 0",
    ]
    for statement in [None, *traffic]:
        if statement:
            execute(pg, statement.format(t=f'"{pg_schema}".items'))
        result = run_table(config, instance, "items")
        assert result.success, failure(result)
        source = query(pg, f'SELECT id, name, qty FROM "{pg_schema}".items ORDER BY id')
        assert query(pg, f'SELECT id, name, qty FROM "{wh_schema}".items ORDER BY id') == source, statement
    assert any("_pipeline_assets" in c["sql"] and "incoming_" in c["sql"] for c in redshift.copies), (
        "merged via a staging table"
    )
    assert any("keys" in url for c in redshift.copies for url in c["urls"]), (
        "the source's keys were COPYed for delete_missing"
    )

    execute(
        pg, f"UPDATE \"{pg_schema}\".items SET name = 'refreshed' WHERE id < 100"
    )  # rows a full refresh reads again
    assembly = assemble(config)
    (assets,) = assembly.tables
    refresh = launch_in_process(
        assembly.definitions, assembly.job_of[assets.loaded.key], assets, [], instance, tags={FULL_REFRESH_TAG: "true"}
    )
    assert refresh.success, failure(refresh)
    assert redshift.copies[-1]["sql"].startswith(f'COPY "{wh_schema}"."items__pa_new" FROM '), (
        "built aside, then swapped in"
    )
    assert query(pg, f'SELECT id, name, qty FROM "{wh_schema}".items ORDER BY id') == query(
        pg, f'SELECT id, name, qty FROM "{pg_schema}".items ORDER BY id'
    )


def test_merge_on_a_composite_key_and_its_checks_use_only_what_redshift_runs(
    pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, instance, tmp_path
):
    """Every statement of a composite-key merge with deletes, and of its asset checks (the duplicates check counts
    distinct keys), passes the stand-in's judge; PostgreSQL's count(DISTINCT (a, b)) would not."""
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".lines AS SELECT g % 3 AS region, g AS id, g AS qty,
                        timestamptz '2026-01-01' + g * interval '1 second' AS updated_at FROM generate_series(1, 900) g;
                        ALTER TABLE "{pg_schema}".lines ADD PRIMARY KEY (region, id)""")
    table = {"source": "app", "table": f"{pg_schema}.lines", "target": "rs", "target_table": f"{wh_schema}.lines"}
    config = project(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "rs": redshift_connection()},
            "stage": s3_stage(s3_server, s3_bucket),
            "tables": [
                {
                    **table,
                    "cursor": "updated_at",
                    "partitioning": "incremental",
                    "write_mode": "merge",
                    "primary_key": ["region", "id"],
                    "delete_missing": True,
                }
            ],
        },
    )
    for statement in [None, "UPDATE {t} SET qty = 0, updated_at = now() WHERE id < 50; DELETE FROM {t} WHERE id > 800"]:
        if statement:
            execute(pg, statement.format(t=f'"{pg_schema}".lines'))
        result = run_table(config, instance, "lines")
        assert result.success, failure(result)
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks and all(checks.values()), checks
        source = query(pg, f'SELECT region, id, qty FROM "{pg_schema}".lines ORDER BY 1, 2')
        assert query(pg, f'SELECT region, id, qty FROM "{wh_schema}".lines ORDER BY 1, 2') == source


def test_a_failing_copy_is_one_line_from_stl_load_errors_and_changes_nothing(
    pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, instance, tmp_path
):
    _events(pg, pg_schema, 60_000)
    config = _config(tmp_path, s3_server, s3_bucket, pg_schema, wh_schema)
    assert run_table(config, instance, "events", DAY).success
    before = query(pg, f'SELECT count(*), sum(id), sum(amount) FROM "{wh_schema}".events')
    ledger_sql = (
        "SELECT file_uri, status, loaded_at FROM _pipeline_assets.loaded_files WHERE target_table = %s AND status IN "
        "('loaded', 'superseded') ORDER BY 1"
    )
    ledger_before = query(pg, ledger_sql, (f"{wh_schema}.events",))
    redshift.fail_on = "batch0001"
    result = run_table(config, instance, "events", DAY)
    assert not result.success
    message = failure(result)
    bad = next(url for url in redshift.copies[-1]["urls"] if "batch0001" in url)
    assert message == (
        f"warehouse 'rs': {wh_schema}.events: COPY failed on {bad} line 7, column amount: Invalid digit, "
        "Value 'x', Pos 0, Type: Decimal"
    )
    assert query(pg, f'SELECT count(*), sum(id), sum(amount) FROM "{wh_schema}".events') == before
    after = query(pg, ledger_sql, (f"{wh_schema}.events",))
    assert after == ledger_before, "the failed load's files are not loaded, the earlier ones still are"
    failed = query(
        pg,
        "SELECT count(*) FROM _pipeline_assets.loaded_files WHERE target_table = %s AND status = 'failed' "
        "AND error LIKE %s",
        (f"{wh_schema}.events", f"%COPY failed on {bad}%"),
    )
    assert failed[0][0] == len(redshift.copies[-1]["urls"]), "the reason is on each file of the failed load"


@pytest.mark.parametrize(
    "ddl, expected",
    [
        (
            'CREATE TABLE {t} (note varchar(65535), id integer, "at" timestamp, amount numeric(8,2))',
            (
                "{t}: columns (note, id, at, amount) differ from the staged files' (id, at, note, amount) in order or number; "
                "Redshift's COPY matches them by position: run a full refresh to rebuild the table"
            ),
        ),
        (
            'CREATE TABLE {t} (id smallint, "at" timestamp, note varchar(65535), amount numeric(8,2))',
            (
                "{t}.id: the source widened it to integer, but Redshift changes a column's type in place only for VARCHAR lengths; "
                "run a full refresh to rebuild the table"
            ),
        ),
    ],
)
def test_a_target_copy_cannot_fill_is_refused_in_one_line(
    ddl, expected, pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, instance, tmp_path
):
    _events(pg, pg_schema, 1_000)
    execute(pg, f'CREATE SCHEMA "{wh_schema}"; ' + ddl.format(t=f'"{wh_schema}".events'))
    result = run_table(_config(tmp_path, s3_server, s3_bucket, pg_schema, wh_schema), instance, "events", DAY)
    assert failure(result) == "warehouse 'rs': " + expected.format(t=f"{wh_schema}.events")
    assert query(pg, f'SELECT count(*) FROM "{wh_schema}".events') == [(0,)] and not redshift.copies


@pytest.fixture
def ssh_server(tmp_path):
    try:
        with sshd(tmp_path / "sshd") as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(f"the SSH test server did not start: {exc}", pytrace=False)


def test_loads_through_an_ssh_tunnel(
    pg, pg_schema, wh_schema, s3_server, s3_bucket, redshift, ssh_server, instance, tmp_path, monkeypatch
):
    monkeypatch.setenv("PA_TEST_SSH_PASSPHRASE", ssh_server.passphrase)
    _events(pg, pg_schema, 2_000)
    tunnel = {
        "host": "127.0.0.1",
        "port": ssh_server.port,
        "user": ssh_server.user,
        "private_key_path": str(ssh_server.key_path),
        "private_key_password": "${PA_TEST_SSH_PASSPHRASE}",
    }
    body = {
        "connections": {"app": pg_connection(), "rs": redshift_connection(ssh_tunnel=tunnel)},
        "stage": s3_stage(s3_server, s3_bucket),
        "tables": [
            {
                "source": "app",
                "table": f"{pg_schema}.events",
                "target": "rs",
                "target_table": f"{wh_schema}.events",
                "cursor": "at",
                "partitioning": "daily",
                "start_date": DAY,
            }
        ],
    }
    result = run_table(project(tmp_path, body), instance, "events", DAY)
    assert result.success, failure(result)
    assert query(pg, f'SELECT count(*) FROM "{wh_schema}".events') == [(2_000,)]

    monkeypatch.setenv("PA_TEST_SSH_PASSPHRASE", "wrong-passphrase")
    wrong = failure(run_table(project(tmp_path, body), instance, "events", DAY))
    assert (
        wrong.startswith(
            f"warehouse 'rs': ssh tunnel {ssh_server.user}@127.0.0.1:{ssh_server.port}: cannot read the "
            f"private key {ssh_server.key_path}: "
        )
        and "wrong-passphrase" not in wrong
    )

    monkeypatch.setenv("PA_TEST_SSH_PASSPHRASE", ssh_server.passphrase)
    ssh_server.stop()  # the bastion is gone: the load cannot reach the warehouse, so the tunnel was on the path
    gone = failure(run_table(project(tmp_path, body), instance, "events", DAY))
    assert gone.startswith(
        f"warehouse 'rs': ssh tunnel {ssh_server.user}@127.0.0.1:{ssh_server.port}: cannot open: "
    ), gone
    assert query(pg, f'SELECT count(*) FROM "{wh_schema}".events') == [(2_000,)]
