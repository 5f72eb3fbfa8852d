"""The ``stage`` command on a shared S3 bucket: every flag, dry runs, confirmation, and table isolation."""

import os
import time

import pytest
from click.testing import CliRunner

from pipeline_assets.cli.main import cli
from pipeline_assets_tests.conftest import pg_connection, s3_stage, write_config

DAY = "2026-01-01"


@pytest.fixture
def setup(pg, pg_schema, s3_server, s3_bucket, tmp_path, monkeypatch):
    """Two tables whose stage prefixes share a bucket (one name a prefix of the other), each synced once."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with pg.cursor() as cur:
        for table in ("events", "events_archive"):
            cur.execute(f"""CREATE TABLE "{pg_schema}".{table} AS SELECT g AS id, timestamp '{DAY}' + g * interval '1 second'
                            AS at FROM generate_series(1, 500) g""")
    config = write_config(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
            "stage": s3_stage(s3_server, s3_bucket, retention_days=7),
            "tables": [
                {
                    "source": "app",
                    "table": f"{pg_schema}.{t}",
                    "target": "duck",
                    "cursor": "at",
                    "partitioning": "daily",
                    "start_date": DAY,
                }
                for t in ("events", "events_archive")
            ],
        },
    )
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(cli, ["--config", str(config), *args])
        assert (result.exit_code == 0) == ok, result.output + result.stderr
        return result

    run("sync", "--all", "--partition", DAY)
    client = s3_server.client()

    def keys(table="events"):
        prefix = f"staging/app/{pg_schema}_{table}/"
        return sorted(o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket, Prefix=prefix).get("Contents", []))

    return run, keys, client, s3_bucket, pg_schema


def test_list_clean_and_isolation(setup):
    run, keys, _client, _bucket, _schema = setup
    before, other = keys(), keys("events_archive")
    assert len(before) == 2 and len(other) == 2

    listed = run("stage", "list", "-t", "events").output
    assert "batch0000.parquet" in listed and "done" in listed and "loaded" in listed and "1 files" in listed
    assert "events_archive" not in listed

    dry = run("stage", "clean", "-t", "events", "--dry-run").output
    assert dry.count("would delete s3://") == 2 and keys() == before
    assert "nothing to delete" in run("stage", "clean", "-t", "events", "--older-than", "7d", "--force").output
    refused = run("stage", "clean", "-t", "events", ok=False)
    assert refused.stderr.strip().splitlines()[-1] == (
        "error: delete 2 objects ("
        + refused.stderr.split("delete 2 objects (")[1].split(")")[0]
        + ") of events? needs confirmation: pass --force when not on a terminal"
    )
    assert keys() == before

    only_data = run("stage", "clean", "-t", "events", "--pattern", "*batch0000*", "--force").output
    assert "deleted 1 objects" in only_data and "freed" in only_data
    assert [k.rsplit("/", 1)[-1] for k in keys()] == ["_manifest.json"]
    assert keys("events_archive") == other, "another table's files are never touched"
    assert "status" not in run("ledger", "list", "-t", "events", "--status", "deleted").stderr


def test_orphans_all_and_clean_all(setup):
    run, keys, client, bucket, schema = setup
    for i in range(3):
        client.put_object(
            Bucket=bucket, Key=f"staging/app/{schema}_events/{DAY}/run_x_killed/f{i}.parquet", Body=b"12345"
        )
    run("sync", "-t", "events_archive", "--partition", DAY)
    time.sleep(1.2)
    dry = run("stage", "orphans", "-t", "events", "--older-than", "1s", "--dry-run").output
    assert dry.count("would delete") == 3 and "15 bytes" in dry
    assert (
        "deleted 3 objects, freed 15 bytes"
        in run("stage", "orphans", "-t", "events", "--older-than", "1s", "--force").output
    )
    assert len(keys()) == 2

    cleaned = run("stage", "clean-all", "--older-than", "1s", "--force").output
    assert "events: deleted 2 objects" in cleaned and "events_archive: deleted" in cleaned
    assert keys() == [] and keys("events_archive") == []


def test_bad_input_and_lifecycle_rule(setup):
    run, _keys, client, bucket, _schema = setup
    unknown = run("stage", "list", "-t", "nope", ok=False)
    assert unknown.stderr.strip().splitlines()[-1] == "error: unknown table 'nope' (configured: events, events_archive)"
    bad_age = run("stage", "clean", "-t", "events", "--older-than", "7x", ok=False)
    assert bad_age.stderr.strip() == "error: --older-than 7x: expected a number and a unit, like 30m, 24h or 7d"
    assert "'Days': 7" in run("stage", "lifecycle").output
    run("stage", "lifecycle", "--apply")
    (rule,) = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["Expiration"]["Days"] == 7 and rule["Status"] == "Enabled"


def test_all_flags_reach_files_awaiting_a_load_and_ledger_clear_by_file(setup, tmp_path):
    run, keys, _client, bucket, _schema = setup
    import dagster as dg

    from pipeline_assets.config import load_config
    from pipeline_assets_tests.runs import run_table

    (loaded,) = [k for k in keys() if k.endswith(".parquet")]
    with dg.DagsterInstance.get() as instance:  # the CLI's instance (DAGSTER_HOME), so run statuses are known
        assert run_table(load_config(tmp_path / "pipeline.yaml"), instance, "events", DAY, only="staged").success
    assert len([k for k in keys() if k.endswith(".parquet")]) == 2
    assert "awaiting load" in run("stage", "list", "-t", "events").output
    assert "nothing to delete" in run("stage", "orphans", "-t", "events", "--older-than", "0s", "--force").output
    assert "nothing to delete" not in run("stage", "clean", "-t", "events", "--dry-run").output
    everything = run("stage", "clean", "-t", "events", "--all", "--dry-run").output
    assert everything.count("would delete") == 4 and "awaiting load" in everything
    assert run("stage", "orphans", "-t", "events", "--all", "--dry-run").output.count("awaiting load") == 2

    one = run("ledger", "clear", "-t", "events", "--file", f"s3://{bucket}/{loaded}")
    assert "cleared 1 records of events" in one.output, "a replace table may clear what it holds: reloading replaces"
    assert (
        "cleared 0 records of events partition 2026-01-02"
        in run("ledger", "clear", "-t", "events", "--partition", "2026-01-02").output
    )
    assert run("ledger", "clear", "-t", "events", "--partition", DAY, "--file", "x", ok=False).stderr.strip() == (
        "error: use either --partition or --file"
    )


def test_the_seeds_spellings_still_work_and_say_their_new_names(setup, monkeypatch):
    run, _keys, _client, _bucket, _schema = setup
    listed = run("s3clean", "list", "-t", "events")
    assert "note: `s3clean` is now `stage`" in listed.stderr and "1 files" in listed.output

    staged = run("sync", "-t", "events", "--partition", DAY, "--backup-only")
    assert "note: `sync --backup-only` is now `sync --stage-only`" in staged.stderr
    assert "awaiting load" in run("stage", "list", "-t", "events").output
    loaded = run("sync", "-t", "events", "--partition", DAY, "--redshift-only")
    assert "note: `sync --redshift-only` is now `sync --load-only`" in loaded.stderr
    assert "awaiting load" not in run("stage", "list", "-t", "events").output

    config = os.environ.pop("PIPELINE_ASSETS_CONFIG")  # the group's option set it: only the late --config may count
    late = CliRunner().invoke(cli, ["stage", "list", "-t", "events", "--config", config])
    assert late.exit_code == 0 and "events:" in late.output, late.output + late.stderr
    monkeypatch.setenv("PIPELINE_ASSETS_CONFIG", config)


def test_a_timestamp_pattern_matches_the_run_folder(setup):
    run, keys, _client, _bucket, _schema = setup
    (folder,) = {k.rsplit("/", 2)[-2] for k in keys()}  # run_<YYYYmmdd_HHMMSS>_<run id>
    hour = folder.removeprefix("run_")[:11]  # YYYYmmdd_HH, as the seeds' runbook types it
    missed = run("stage", "clean", "-t", "events", "--pattern", "*19990101_00*", "--dry-run").output
    assert "nothing to delete" in missed
    dry = run("stage", "clean", "-t", "events", "--pattern", f"*{hour}*", "--dry-run").output
    assert dry.count("would delete s3://") == 2, dry
    cleaned = run("stage", "clean", "-t", "events", "--pattern", f"*{hour}*", "--force").output
    assert "deleted 2 objects" in cleaned and keys() == []


@pytest.mark.parametrize("policy", ["after_partition", "after_all"])
def test_sync_cleans_what_it_loaded_when_cleanup_after_load_says_so(policy, pg, pg_schema, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".events AS SELECT g AS id, timestamp '{DAY}' + g * interval '1 minute'
                        AS at FROM generate_series(1, 2000) g""")
    config = write_config(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "duck": {"kind": "duckdb", "path": "dw.duckdb"}},
            "stage": {"url": "stage", "cleanup_after_load": policy},
            "tables": [
                {
                    "source": "app",
                    "table": f"{pg_schema}.events",
                    "target": "duck",
                    "cursor": "at",
                    "partitioning": "daily",
                    "start_date": DAY,
                }
            ],
        },
    )
    runner = CliRunner()
    staged = runner.invoke(cli, ["--config", str(config), "sync", "-t", "events", "--partition", DAY, "--stage-only"])
    assert staged.exit_code == 0 and "cleanup:" not in staged.output, "nothing loaded: nothing cleaned"
    never_loaded = {p for p in (tmp_path / "stage").rglob("*") if p.is_file()}
    synced = runner.invoke(cli, ["--config", str(config), "sync", "-t", "events", "--from", DAY, "--to", "2026-01-02"])
    assert synced.exit_code == 0, synced.output + synced.stderr
    assert "cleanup: events: deleted 4 staged objects" in synced.output and f"({policy})" in synced.output
    left = {p for p in (tmp_path / "stage").rglob("*") if p.is_file()}
    assert left == never_loaded and len(left) == 2, "only the files whose rows were loaded go"
    ledger = runner.invoke(cli, ["--config", str(config), "ledger", "list", "-t", "events"]).output
    assert ledger.count("│ deleted │") == 2 and "│ loaded │" not in ledger, ledger
