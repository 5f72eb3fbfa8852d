"""Watermark-driven tables: merge with insert/update/delete traffic, boundary rows, a kill mid-load, full refresh
under a reader, schema evolution, the watermark command and its bad input (PostgreSQL and DuckDB warehouses)."""

import os
import signal
import subprocess
import sys
import threading
import time

import duckdb
import psycopg2
import pytest
from click.testing import CliRunner

from pipeline_assets.cli.main import cli
from pipeline_assets.config import load_config
from pipeline_assets.core.errors import PipelineError
from pipeline_assets_tests.conftest import PG, mysql_connection, pg_connection, s3_stage, write_config
from pipeline_assets_tests.redshift_emulator import redshift_connection
from pipeline_assets_tests.runs import failure, metadata, run_table


def _config(
    tmp_path, source: dict, table: str, warehouse: str, wh_schema: str, cloud: dict | None = None, **options
) -> tuple:
    target = pg_connection() if warehouse == "postgres" else {"kind": "duckdb", "path": "dw.duckdb"}
    path = write_config(
        tmp_path,
        {
            "connections": {"src": source, "dw": target, **(cloud or {}).get("connections", {})},
            **({"stage": cloud["stage"]} if cloud else {}),
            "tables": [
                {
                    "source": "src",
                    "table": table,
                    "target": "dw",
                    "target_table": f"{wh_schema}.items",
                    "name": "items",
                    "cursor": "updated_at",
                    "partitioning": "incremental",
                    "write_mode": "merge",
                    "primary_key": ["id"],
                    **options,
                }
            ],
        },
    )
    return path, load_config(path)


def _items(pg, schema: str, rows: int, step: str = "1 second", name: str = "'n' || g") -> None:
    """A PostgreSQL source table ``items`` of ``rows`` rows whose cursor moves ``step`` per row from 2026-01-01."""
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{schema}".items AS SELECT g AS id, {name} AS name, g AS qty,
                        timestamptz '2026-01-01' + g * interval '{step}' AS updated_at FROM generate_series(1, {rows}) g""")


def _cloud(request, warehouse: str) -> dict | None:
    """A cloud warehouse's stand-in as the ``dw`` connection, with the S3 stage it reads (None for the local ones)."""
    if warehouse not in ("snowflake", "redshift"):
        return None
    s3_server, bucket, server = (request.getfixturevalue(f) for f in ("s3_server", "s3_bucket", warehouse))
    connection = server.connection() if warehouse == "snowflake" else redshift_connection()
    return {"connections": {"dw": connection}, "stage": s3_stage(s3_server, bucket), "server": server}


def _target(warehouse: str, tmp_path, pg, wh_schema: str, cloud: dict | None = None) -> list[tuple]:
    sql = f'SELECT "id", "name", "qty" FROM "{wh_schema}"."items" ORDER BY "id"'
    if warehouse == "snowflake":
        return [tuple(row) for row in cloud["server"].query(sql)]
    if warehouse in ("postgres", "redshift"):  # the Redshift stand-in is PostgreSQL
        with pg.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    with duckdb.connect(str(tmp_path / "dw.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("warehouse", ["postgres", "duckdb", "snowflake", "redshift"])
def test_merge_follows_inserts_updates_and_deletes(
    warehouse, request, mysql, mysql_db, pg, wh_schema, instance, tmp_path
):
    with mysql.cursor() as cur:
        cur.execute(
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), qty INT, updated_at DATETIME(6) NOT NULL)"
        )
        cur.executemany(
            "INSERT INTO items VALUES (%s, %s, %s, '2026-01-01 00:00:00')", [(i, f"n{i}", i) for i in range(1, 501)]
        )
    cloud = _cloud(request, warehouse)
    _, config = _config(tmp_path, mysql_connection(mysql_db), "items", warehouse, wh_schema, cloud, delete_missing=True)

    def source():
        with mysql.cursor() as cur:
            cur.execute("SELECT id, name, qty FROM items ORDER BY id")
            return list(cur.fetchall())

    traffic = [
        "UPDATE items SET qty = qty + 1000, updated_at = NOW(6) WHERE id % 7 = 0",
        "INSERT INTO items SELECT id + 1000, 'new', 1, NOW(6) FROM items WHERE id <= 50",
        "DELETE FROM items WHERE id % 11 = 0",
        "UPDATE items SET name = 'again', updated_at = NOW(6) WHERE id BETWEEN 1000 AND 1010",
    ]
    assert run_table(config, instance, "items").success
    assert _target(warehouse, tmp_path, pg, wh_schema, cloud) == source()
    for statement in traffic:
        with mysql.cursor() as cur:
            cur.execute(statement)
        result = run_table(config, instance, "items")
        assert result.success, failure(result)
        assert _target(warehouse, tmp_path, pg, wh_schema, cloud) == source(), statement
        assert all(e.passed for e in result.get_asset_check_evaluations())


def test_rows_sharing_the_boundary_value_across_batches_are_never_lost_or_doubled(
    mysql, mysql_db, pg, wh_schema, instance, tmp_path
):
    with mysql.cursor() as cur:
        cur.execute(
            "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), qty INT, updated_at DATETIME(6) NOT NULL)"
        )
        cur.executemany(
            "INSERT INTO items VALUES (%s, %s, %s, '2026-01-01 12:00:00')", [(i, f"n{i}", i) for i in range(1, 1001)]
        )
    _, config = _config(
        tmp_path, mysql_connection(mysql_db), "items", "postgres", wh_schema, batch_size=300, write_mode="append"
    )
    first = run_table(config, instance, "items")
    assert first.success, failure(first)
    assert metadata(first, ["dw", wh_schema, "items"])["rows_loaded"] == 1000
    with mysql.cursor() as cur:  # rows committed later with the very cursor value the watermark holds
        cur.executemany(
            "INSERT INTO items VALUES (%s, 'late', 0, '2026-01-01 12:00:00')", [(i,) for i in range(1001, 1006)]
        )
    result = run_table(config, instance, "items")
    assert result.success
    assert metadata(result, ["dw", wh_schema, "items"])["rows_loaded"] == 5
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*), count(DISTINCT id) FROM "{wh_schema}".items')
        assert cur.fetchone() == (1005, 1005)


def test_lookback_catches_late_rows_and_a_dropped_target_stops_the_table(pg, pg_schema, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".items (region text, id int, name text, qty int, updated_at timestamp,
                        PRIMARY KEY (region, id));
                        INSERT INTO "{pg_schema}".items VALUES ('eu', 1, 'a', 1, '2026-01-01 10:00'), ('us', 1, 'b', 1, '2026-01-01 11:00')""")
    _, config = _config(
        tmp_path, pg_connection(), f"{pg_schema}.items", "duckdb", "app", lookback="2h", primary_key=["region", "id"]
    )
    assert run_table(config, instance, "items").success
    with pg.cursor() as cur:  # a row that arrives late, stamped before the watermark but inside the lookback
        cur.execute(f"""INSERT INTO "{pg_schema}".items VALUES ('eu', 2, 'late', 1, '2026-01-01 10:30');
                        UPDATE "{pg_schema}".items SET qty = 5, updated_at = '2026-01-01 11:00' WHERE region = 'eu' AND id = 1""")
    assert run_table(config, instance, "items").success
    with duckdb.connect(str(tmp_path / "dw.duckdb")) as conn:
        assert conn.execute("SELECT region, id, qty FROM app.items ORDER BY region, id").fetchall() == [
            ("eu", 1, 5),
            ("eu", 2, 1),
            ("us", 1, 1),
        ]
        conn.execute("DROP TABLE app.items")
    stopped = run_table(config, instance, "items")
    message = failure(stopped)
    assert "app.items is gone but the watermark of items is still 2026-01-01T11:00:00+00:00" in message
    assert "watermark reset -t items" in message and "sync -t items --full-refresh" in message


def test_a_kill_during_the_load_loses_and_doubles_nothing(pg, pg_schema, wh_schema, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    _items(pg, pg_schema, 300_000, name="md5(g::text)")
    path, _ = _config(tmp_path, pg_connection(), f"{pg_schema}.items", "postgres", wh_schema)
    command = [sys.executable, "-m", "pipeline_assets", "--config", str(path), "sync", "-t", "items"]
    process = subprocess.Popen(command, env={**os.environ}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watcher = psycopg2.connect(**PG)
    watcher.autocommit = True
    deadline = time.monotonic() + 120
    while True:  # wait until the load is copying rows, then kill the process without warning
        assert process.poll() is None and time.monotonic() < deadline, "the sync ended before its load began"
        with watcher.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pipeline_assets' "
                "AND query ILIKE 'COPY%' AND state = 'active'"
            )
            if cur.fetchone()[0]:
                break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(0.5)
    with watcher.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = '_pipeline_assets' AND table_name = 'watermarks'"
        )
        if cur.fetchone()[0]:
            cur.execute(
                "SELECT count(*) FROM _pipeline_assets.watermarks WHERE table_name = %s AND cursor_value IS NOT NULL",
                (f"{wh_schema}.items",),
            )
            assert cur.fetchone()[0] == 0, "the watermark did not move without its rows"
    watcher.close()
    result = CliRunner().invoke(cli, ["--config", str(path), "sync", "-t", "items"])
    assert result.exit_code == 0, result.output + result.stderr
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*), count(DISTINCT id) FROM "{wh_schema}".items')
        assert cur.fetchone() == (300000, 300000)


def test_full_refresh_swaps_while_a_reader_reads(pg, pg_schema, wh_schema, instance, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    _items(pg, pg_schema, 50_000)
    path, _ = _config(tmp_path, pg_connection(), f"{pg_schema}.items", "postgres", wh_schema)
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(path), "sync", "-t", "items"]).exit_code == 0
    with pg.cursor() as cur:
        cur.execute(f'DELETE FROM "{pg_schema}".items WHERE id > 40000')  # deletes that only a refresh can see
        cur.execute(f'UPDATE "{pg_schema}".items SET qty = -1 WHERE id <= 10')
    seen, stop = [], threading.Event()

    def read():
        reader = psycopg2.connect(**PG)
        reader.autocommit = True
        while not stop.is_set():
            with reader.cursor() as cur:
                cur.execute(f'SELECT count(*) FROM "{wh_schema}".items')
                seen.append(cur.fetchone()[0])
        reader.close()

    thread = threading.Thread(target=read)
    thread.start()
    refused = runner.invoke(cli, ["--config", str(path), "sync", "-t", "items", "--full-refresh"])
    assert refused.exit_code == 2 and "needs confirmation: pass --yes" in refused.stderr
    refreshed = runner.invoke(cli, ["--config", str(path), "sync", "-t", "items", "--full-refresh", "--yes"])
    time.sleep(0.2)
    stop.set()
    thread.join()
    assert refreshed.exit_code == 0, refreshed.output + refreshed.stderr
    assert set(seen) <= {50000, 40000} and seen[-1] == 40000 and len(seen) > 10, "never empty, never half"
    got = runner.invoke(cli, ["--config", str(path), "watermark", "get", "-t", "items"])
    assert "full refresh" in got.output and "strategy            full_refresh" in got.output


def test_schema_evolution_and_freeze(pg, pg_schema, wh_schema, instance, tmp_path):
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".items (id int PRIMARY KEY, name text, qty smallint, updated_at timestamptz);
                        INSERT INTO "{pg_schema}".items VALUES (1, 'a', 1, '2026-01-01'), (2, 'b', 2, '2026-01-01')""")
    _, config = _config(tmp_path, pg_connection(), f"{pg_schema}.items", "postgres", wh_schema)
    assert run_table(config, instance, "items").success
    with pg.cursor() as cur:
        cur.execute(f"""ALTER TABLE "{pg_schema}".items ADD COLUMN note text, ALTER COLUMN qty TYPE bigint;
                        INSERT INTO "{pg_schema}".items VALUES (3, 'c', 3000000000, now(), 'added')""")
    _, frozen = _config(tmp_path, pg_connection(), f"{pg_schema}.items", "postgres", wh_schema, schema_policy="freeze")
    refused = run_table(frozen, instance, "items")
    assert "items.qty: smallint → bigint, but schema_policy is freeze; stopped before loading" in failure(refused)
    result = run_table(config, instance, "items")
    assert result.success, failure(result)
    assert metadata(result, ["dw", wh_schema, "items"])["schema_changes"] == "qty: smallint → bigint; note: added text"
    with pg.cursor() as cur:
        cur.execute(f'SELECT id, qty, note FROM "{wh_schema}".items ORDER BY id')
        assert cur.fetchall() == [(1, 1, None), (2, 2, None), (3, 3000000000, "added")]
        cur.execute(f'ALTER TABLE "{pg_schema}".items ALTER COLUMN name TYPE int USING 0')
    narrowed = run_table(config, instance, "items")
    assert f"{wh_schema}.items.name: text → integer would narrow or change the type; stopped before loading" in failure(
        narrowed
    )
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{wh_schema}".items')
        assert cur.fetchone()[0] == 3, "nothing of the refused run was loaded"


def test_watermark_commands_and_the_seed_workflows(pg, pg_schema, wh_schema, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    _items(pg, pg_schema, 30, step="1 day")
    path, _ = _config(tmp_path, pg_connection(), f"{pg_schema}.items", "postgres", wh_schema)
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(cli, ["--config", str(path), *args])
        assert result.exit_code == code, result.output + result.stderr
        return result

    assert "no watermark yet" in run("watermark", "get", "-t", "items").output
    # fresh sync from a date: reset + set + sync
    run("watermark", "reset", "-t", "items", "--yes")
    run("watermark", "set", "-t", "items", "--timestamp", "2026-01-21 00:00:00", "--yes")
    assert "2026-01-21T00:00:00+00:00" in run("watermark", "list").output
    run("sync", "-t", "items")
    with pg.cursor() as cur:
        cur.execute(f'SELECT min(id), count(*) FROM "{wh_schema}".items')
        assert cur.fetchone() == (20, 11), "rows from the set timestamp on (closed start)"
    # stage now, load later: sync --stage-only, then reset + set + sync --load-only
    with pg.cursor() as cur:
        cur.execute(f'UPDATE "{pg_schema}".items SET qty = 0, updated_at = now() WHERE id = 5')
    run("sync", "-t", "items", "--stage-only")
    with pg.cursor() as cur:
        cur.execute(f'UPDATE "{pg_schema}".items SET qty = 0, updated_at = now() WHERE id = 6')
    run("sync", "-t", "items", "--stage-only")  # two staging runs wait for a load
    with pg.cursor() as cur:
        cur.execute(f'SELECT qty FROM "{wh_schema}".items WHERE id = 30')
        assert cur.fetchone() == (30,)
    run("watermark", "reset", "-t", "items", "--yes")
    run("watermark", "set", "-t", "items", "--timestamp", "2026-01-01", "--yes")
    run("sync", "-t", "items", "--load-only")
    with pg.cursor() as cur:
        cur.execute(f'SELECT id, qty FROM "{wh_schema}".items WHERE id IN (5, 6) ORDER BY id')
        assert cur.fetchall() == [(5, 0), (6, 0)], (
            "both staged runs were loaded, oldest first, without extracting again"
        )
    history = run("watermark", "get", "-t", "items").output
    assert "reset by hand" in history and "set by hand" in history and "by cli at" in history

    before = run("watermark", "list").output
    assert run("watermark", "set", "-t", "nope", "--timestamp", "2026-01-01", "--yes", code=2).stderr.strip() == (
        "error: unknown table 'nope' (configured: items)"
    )
    bad = run("watermark", "set", "-t", "items", "--timestamp", "yesterday-ish", "--yes", code=2).stderr.strip()
    assert bad.startswith("error: --timestamp yesterday-ish: expected an ISO date or timestamp")
    asked = run("watermark", "reset", "-t", "items", code=2).stderr.strip()
    assert asked.endswith("needs confirmation: pass --yes when not on a terminal")
    assert run("watermark", "list").output == before, "refused commands changed nothing"

    # seed 003's restore of a corrupted watermark: history numbers every change, restore puts one's value back
    listed = run("watermark", "history", "-t", "items").output.splitlines()
    set_by_hand = next(line for line in listed if "set by hand" in line)
    number, value = set_by_hand.split()[0].removeprefix("#"), set_by_hand.split("→ ")[1].split()[0]
    assert value == "2026-01-01T00:00:00+00:00"
    run("watermark", "set", "-t", "items", "--timestamp", "1999-01-01", "--reason", "a mistake", "--yes")
    run("watermark", "restore", "-t", "items", "--to", number, "--yes")
    shown = run("watermark", "get", "-t", "items").output
    assert f"cursor value        {value}" in shown and f"restored to #{number}" in shown
    assert run("watermark", "history", "-t", "items").output.splitlines()[1].split()[0] == f"#{len(listed) + 1}"
    missing = run("watermark", "restore", "-t", "items", "--to", "999", "--yes", code=2).stderr.strip()
    assert missing == f"error: items: no change #999 in the watermark history (it has {len(listed) + 1})"


def test_load_only_after_a_set_timestamp_loads_only_the_runs_holding_rows_from_it(
    pg, pg_schema, wh_schema, tmp_path, monkeypatch
):
    """Seed 003's "load what is already staged from a date": reset, set --timestamp T, sync --load-only."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    _items(pg, pg_schema, 30, step="1 day")  # 2026-01-02 … 2026-01-31
    path, _ = _config(tmp_path, pg_connection(), f"{pg_schema}.items", "postgres", wh_schema)
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(cli, ["--config", str(path), *args])
        assert result.exit_code == code, result.output + result.stderr
        return result

    run("sync", "-t", "items", "--stage-only")  # run A: rows up to 2026-01-31
    with pg.cursor() as cur:
        cur.execute(f"UPDATE \"{pg_schema}\".items SET qty = 0, updated_at = '2026-03-01' WHERE id = 5")
    run("sync", "-t", "items", "--stage-only")  # run B: rows up to 2026-03-01
    run("watermark", "reset", "-t", "items", "--yes")
    run("watermark", "set", "-t", "items", "--timestamp", "2026-02-15", "--yes")
    run("sync", "-t", "items", "--load-only")
    staged = run("ledger", "list", "-t", "items").output
    assert staged.count("│ loaded │") == 1 and staged.count("│ staged │") == 1, staged
    with pg.cursor() as cur:
        cur.execute(f'SELECT count(*), min(qty) FROM "{wh_schema}".items')
        assert cur.fetchone() == (30, 0), "run B (which holds rows from the set timestamp on) was loaded"
    run("watermark", "set", "-t", "items", "--timestamp", "2026-06-01", "--yes")
    nothing = run("sync", "-t", "items", "--load-only").output
    assert run("ledger", "list", "-t", "items").output.count("│ staged │") == 1, "run A stays unloaded: " + nothing


def test_a_failed_stage_is_recorded_as_failed_until_it_next_succeeds(pg, pg_schema, wh_schema, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    _items(pg, pg_schema, 30)
    path, _ = _config(tmp_path, pg_connection(), f"{pg_schema}.items", "postgres", wh_schema, schema_policy="freeze")
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(cli, ["--config", str(path), *args])
        assert result.exit_code == code, result.output + result.stderr
        return result

    run("sync", "-t", "items")
    with pg.cursor() as cur:  # a load refused by schema_policy: freeze
        cur.execute(f'ALTER TABLE "{pg_schema}".items ADD COLUMN extra int')
        cur.execute(f"UPDATE \"{pg_schema}\".items SET updated_at = updated_at + interval '1 day' WHERE id = 1")
    run("sync", "-t", "items", code=1)
    refused = run("watermark", "get", "-t", "items").output
    assert "extract / load      success / failed" in refused and "schema_policy is freeze" in refused, refused
    with pg.cursor() as cur:
        cur.execute(f'ALTER TABLE "{pg_schema}".items DROP COLUMN extra')
    run("sync", "-t", "items")
    assert "load failed at" not in run("watermark", "get", "-t", "items").output
    with pg.cursor() as cur:
        cur.execute(f'ALTER TABLE "{pg_schema}".items RENAME TO items_gone')
    run("sync", "-t", "items", code=1)
    failed = run("watermark", "get", "-t", "items").output
    assert "extract / load      failed / success" in failed, failed
    assert "extract failed at 20" in failed and "items" in failed.split("extract failed at")[1]
    assert "extract failed, load success" in run("watermark", "list").output
    with pg.cursor() as cur:
        cur.execute(f'ALTER TABLE "{pg_schema}".items_gone RENAME TO items')
    run("sync", "-t", "items")
    cleared = run("watermark", "get", "-t", "items").output
    assert "extract / load      success / success" in cleared and "failed at" not in cleared, cleared


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"write_mode": "overwrite"}, "'overwrite' is not offered: emptying a table and refilling it loses data"),
        ({"primary_key": []}, "incremental tables need a primary_key"),
        ({"write_mode": "replace"}, "incremental tables append or merge"),
        ({"delete_missing": True, "write_mode": "append"}, "delete_missing is for incremental tables in merge mode"),
    ],
)
def test_bad_incremental_config_is_one_line(options, expected, tmp_path, wh_schema):
    body_path = write_config(
        tmp_path,
        {
            "connections": {"src": pg_connection(), "dw": pg_connection()},
            "tables": [
                {
                    "source": "src",
                    "table": "t",
                    "target": "dw",
                    "cursor": "updated_at",
                    "partitioning": "incremental",
                    "write_mode": "merge",
                    "primary_key": ["id"],
                    **options,
                }
            ],
        },
    )
    result = CliRunner().invoke(cli, ["--config", str(body_path), "sync", "--all"])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr


def test_a_limited_sample_a_stale_staging_run_and_null_keys_never_move_the_table_wrongly(
    pg, pg_schema, instance, tmp_path
):
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".items (id int, name text, qty int, updated_at timestamptz);
                        INSERT INTO "{pg_schema}".items VALUES (1, 'a', 1, '2026-01-01 13:00+00'), (2, 'b', 1, '2026-01-01 10:00+00'),
                        (3, 'c', 1, '2026-01-01 11:00+00')""")
    _, config = _config(tmp_path, pg_connection(), f"{pg_schema}.items", "duckdb", "app")
    sample = run_table(config, instance, "items", limit=1)
    assert metadata(sample, ["dw", "app", "items"])["rows_loaded"] == 1, (
        "loaded the sample (its checks fail, as they should)"
    )
    full = run_table(config, instance, "items")
    assert full.success and metadata(full, ["dw", "app", "items"])["watermark_before"] == "none", (
        "--limit moved nothing"
    )
    assert _target("duckdb", tmp_path, None, "app") == [(1, "a", 1), (2, "b", 1), (3, "c", 1)]

    stale = run_table(config, instance, "items", only="staged")
    assert run_table(config, instance, "items").success  # a newer run loads after the stale one was staged
    from pipeline_assets.assembly import build_resources
    from pipeline_assets.assets.incremental import check_loadable
    from pipeline_assets.stage.staging import latest_manifest

    warehouse = build_resources(config)["dw"].warehouse()
    stage = build_resources(config)["stage"].store()
    old = latest_manifest(stage, f"src/{pg_schema}_items", "full", prefer_run=stale.run_id)
    with pytest.raises(PipelineError, match=f"staging run {stale.run_id} read the source until .* before the rows"):
        check_loadable(warehouse, config.tables[0], old, full_refresh=False)
    with pytest.raises(PipelineError, match="a full refresh needs a full extraction without --limit"):
        check_loadable(warehouse, config.tables[0], old, full_refresh=True)

    with pg.cursor() as cur:
        cur.execute(f"""INSERT INTO "{pg_schema}".items VALUES (NULL, 'no key', 1, now())""")
    refused = run_table(config, instance, "items")
    assert "staged rows have a NULL in the primary key (id)" in failure(refused)
    assert _target("duckdb", tmp_path, None, "app") == [(1, "a", 1), (2, "b", 1), (3, "c", 1)]
