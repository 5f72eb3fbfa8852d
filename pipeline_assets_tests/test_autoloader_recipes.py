"""The reprocessing recipes of a files table (seed 004's comparison table, made safe), through the CLI and as
Dagster jobs: each gives the promised row counts, and the combination that duplicates rows is refused."""

import dagster as dg
import pytest
from click.testing import CliRunner

from pipeline_assets.assembly import assemble
from pipeline_assets.cli.main import cli
from pipeline_assets_tests.conftest import project, write_config
from pipeline_assets_tests.drops import csv_file, files_body, pg_value, source_records, tick_until_quiet
from pipeline_assets_tests.runs import failure

JOBS = {
    "fresh_start": ("files_fresh_start", "drop_table_keep_ledger"),
    "full_reprocess": ("files_full_reprocess", "drop_table_clear_ledger"),
    "backfill": ("files_backfill", "clear_ledger_subset"),
}
COMMANDS = {"fresh_start": "fresh-start", "full_reprocess": "reprocess", "backfill": "backfill"}


@pytest.fixture
def table(s3_server, s3_bucket, pg, wh_schema, instance, tmp_path, request):
    """A files table that has loaded 3 files of 10 rows; then 2 more files arrive."""
    body = files_body(s3_server, s3_bucket, tmp_path)
    body["tables"][0]["target_table"] = f"{wh_schema}.events"
    if getattr(request, "param", None) == "merge":
        body["tables"][0].update(write_mode="merge", primary_key=["id"])
    config = write_config(tmp_path, body)
    assembly = assemble(project(tmp_path, body))
    client = s3_server.client()
    for n in range(3):
        client.put_object(Bucket=s3_bucket, Key=f"landing/events/old{n}.csv", Body=csv_file(n * 10, 10))
    cursor = [tick_until_quiet(assembly, instance)[0]]  # the sensor's cursor, carried from tick to tick
    assert pg_value(pg, wh_schema) == 30
    for n in range(3, 5):
        client.put_object(Bucket=s3_bucket, Key=f"landing/events/new{n}.csv", Body=csv_file(n * 10, 10))

    def recipe(name: str, via: str, *args: str, ok: bool = True, **config_values):
        if via == "cli":
            result = CliRunner().invoke(
                cli, ["--config", str(config), "files", COMMANDS[name], "-t", "events", "--yes", *args]
            )
            assert (result.exit_code == 0) == ok, result.output
            return result.output.strip().splitlines()[-1]
        job_name, op = JOBS[name]
        run = assembly.definitions.resolve_job_def(job_name).execute_in_process(
            run_config={"ops": {op: {"config": {"table": "events", "confirm": "events", **config_values}}}},
            instance=instance,
            raise_on_error=False,
        )
        assert run.success == ok, failure(run)
        return "" if ok else failure(run)

    def load() -> int:
        cursor[0] = tick_until_quiet(assembly, instance, cursor[0])[0]
        return pg_value(pg, wh_schema)

    return recipe, load, assembly


@pytest.mark.parametrize(
    ("recipe", "via", "args", "rows"),
    [
        ("normal", None, (), 50),  # keep the table, keep the ledger: only the new files
        ("fresh_start", "cli", (), 20),  # drop the table, keep the ledger: only the new files, in a new table
        ("fresh_start", "job", (), 20),
        ("full_reprocess", "cli", (), 50),  # drop the table, clear the ledger: every file again
        ("full_reprocess", "job", (), 50),
        (
            "backfill",
            "cli",
            ("--force",),
            80,
        ),  # keep the table, clear the ledger: every file appended again (duplicates)
    ],
)
def test_each_recipe_gives_the_seeds_row_counts(table, recipe, via, args, rows, pg, wh_schema):
    run_recipe, load, _ = table
    if recipe != "normal":
        run_recipe(recipe, via, *args)
    assert load() == rows
    statuses = sorted(r[1] for r in source_records(pg, wh_schema))
    if recipe == "fresh_start":
        assert statuses == ["loaded"] * 2 + ["superseded"] * 3, (
            "the ledger keeps the history of the dropped rows' files"
        )
    else:
        assert statuses == ["loaded"] * 5


def test_the_recipes_say_what_they_did(table):
    run_recipe, load, _ = table
    assert (
        run_recipe("fresh_start", "cli")
        == f"fresh start: dropped {table[2].tables[0].table.target_schema}.events (30 rows), 6 ledger records kept as processed"
    )  # 3 source files and the 3 staged files of their rows
    assert load() == 20
    assert run_recipe("backfill", "cli", "--since", "2100-01-01").endswith("0 ledger records cleared"), (
        "no file that new"
    )
    assert run_recipe("backfill", "cli", "--status", "superseded").endswith("3 ledger records cleared"), (
        "not in the table: allowed"
    )
    assert load() == 50


def test_backfilling_an_appending_table_is_refused_unless_forced(table, pg, wh_schema):
    run_recipe, load, _ = table
    message = run_recipe("backfill", "cli", ok=False)
    assert message == (
        f"error: refusing: {wh_schema}.events holds the rows of 3 of these 3 files and events appends, so "
        "loading them again would duplicate them; use `files reprocess` (drop and reload everything), narrow "
        "the choice (e.g. --status failed), or pass --force to append them again anyway"
    )
    assert "refusing" in run_recipe("backfill", "job", ok=False)
    assert load() == 50 and len(source_records(pg, wh_schema)) == 5, "nothing was cleared: only the new files loaded"


@pytest.mark.parametrize("table", ["merge"], indirect=True)
def test_backfilling_a_merging_table_reloads_without_duplicates(table, pg, wh_schema):
    run_recipe, load, _ = table
    run_recipe("backfill", "job", pattern="*old1.csv")
    assert load() == 50 and pg_value(pg, wh_schema, "count(DISTINCT id)") == 50
    assert sorted(r[1] for r in source_records(pg, wh_schema)) == ["loaded"] * 5


def test_a_recipe_needs_its_confirmation_and_an_idle_table(table, instance, pg, wh_schema):
    run_recipe, _, assembly = table
    assert run_recipe("full_reprocess", "job", ok=False, confirm="evnets") == (
        "confirm must repeat the table's name ('events'); nothing was changed"
    )
    load_job = assembly.definitions.resolve_job_def(assembly.job_of[assembly.tables[0].loaded.key])
    busy = instance.create_run_for_job(load_job, status=dg.DagsterRunStatus.STARTED)
    assert (
        run_recipe("full_reprocess", "job", ok=False)
        == f"events: run {busy.run_id} (STARTED) is loading it; wait for it or cancel it first"
    )
    assert pg_value(pg, wh_schema) == 30, "nothing dropped"


def test_the_snapshot_refresh_schedule_is_off_until_switched_on_and_reloads_every_file(table, instance, pg, wh_schema):
    _, load, assembly = table
    schedule = assembly.definitions.resolve_schedule_def("snapshot_refresh_events")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED and schedule.cron_schedule == "0 3 * * *"
    (request,) = schedule.evaluate_tick(dg.build_schedule_context(instance=instance)).run_requests
    job = assembly.definitions.resolve_job_def(schedule.job_name)
    assert job.execute_in_process(run_config=request.run_config, instance=instance, tags=request.tags).success
    assert load() == 50, "the table was dropped and every file in the source loaded again: the latest snapshot"
