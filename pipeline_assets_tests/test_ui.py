"""The Dagster UI, tested as a person would: a real `dagster dev` and Debian's Chromium driven by Playwright.

One webserver serves every test of this module. The demo is generated, one day of `orders` is synced by the CLI,
and the UI must show the assets, that day's partition as materialized (the others missing), run a
materialization launched from its own buttons, and have the daemon run a range backfill chosen in its partitions
dialog, loading exactly those days into the warehouse. Screenshots of each step go to test-artifacts/ui/."""

import math
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from playwright.sync_api import Page, expect, sync_playwright

from pipeline_assets.config.tables import TableConfig
from pipeline_assets.demo.shop import ensure_demo
from pipeline_assets_tests.daemon import DagsterDev
from pipeline_assets_tests.daemon import free_port as _free_port
from pipeline_assets_tests.daemon import stop_group as _stop_group
from pipeline_assets_tests.daemon import wait_until_up as _wait_until_up

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "ui"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
UI_TIMEOUT_MS = 60_000  # the machine is slow; a person would wait too
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
BACKFILL_TIMEOUT = 600.0  # the daemon looks for backfills every 30 s, then the runs start their own processes


@dataclass(frozen=True)
class Ui:
    url: str
    dagster_home: Path
    tables: list[str]
    days: list[str]  # every daily partition, oldest first; days[0] is the one the CLI synced
    config: Path  # the demo's configuration file: its SQLite source, DuckDB warehouse and tables
    server: DagsterDev  # the running `dagster dev`, for waits on the instance and GraphQL


@pytest.fixture(scope="module")
def ui(tmp_path_factory) -> Iterator[Ui]:
    """A demo with one synced day of `orders`, and `dagster dev` serving it on a free loopback port."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (as root) or `make test`", pytrace=False)
    root = tmp_path_factory.mktemp("ui")
    home, dagster_home = root / "home", root / "dagster_home"
    dagster_home.mkdir()
    # no newsletter dialog over the pages, no telemetry
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    env = {
        **os.environ,
        "PIPELINE_ASSETS_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    env.pop("PIPELINE_ASSETS_CONFIG", None)
    config = ensure_demo(home)
    demo = yaml.safe_load(config.read_text())
    first = date.fromisoformat(str(demo["tables"][0]["start_date"]))
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [(first + timedelta(days=n)).isoformat() for n in range((yesterday - first).days + 1)]
    sync = subprocess.run(
        [sys.executable, "-m", "pipeline_assets", "sync", "-t", "orders", "--partition", days[0]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert sync.returncode == 0, sync.stderr

    url, log = f"http://127.0.0.1:{_free_port()}", root / "dagster_dev.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster")),
                "dev",
                "-m",
                "pipeline_assets.definitions",
                "-p",
                url.rsplit(":", 1)[1],
                "-h",
                "127.0.0.1",
            ],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(proc, url, log)
        server = DagsterDev(url, dagster_home, log, proc)
        yield Ui(url, dagster_home, [t["table"] for t in demo["tables"]], days, config, server)
    finally:
        _stop_group(proc)


@pytest.fixture(scope="module")
def page(ui: Ui) -> Iterator[Page]:
    """One Chromium page for the whole module (Debian's build; Playwright never downloads one)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000}, base_url=ui.url)
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=SHOTS / f"{name}.png")


def test_catalog_lists_each_tables_two_assets(ui: Ui, page: Page) -> None:
    """The catalog names every demo table's staged and warehouse assets, with their statuses."""
    page.goto("/assets")
    for table in ui.tables:
        for key in (f"stage / shop / {table}", f"warehouse / shop / {table}"):
            expect(page.get_by_title(key, exact=True)).to_be_visible()  # the row's asset-name link
    expect(page.get_by_text("Never materialized", exact=True)).to_have_count(4)  # statuses loaded: customers, products
    _shot(page, "01-catalog")


def test_partitions_page_shows_the_synced_day_materialized_and_the_others_missing(ui: Ui, page: Page) -> None:
    """The status filters of `warehouse/shop/orders`' Partitions tab split the days; the synced day shows its run."""
    synced, missing = ui.days[0], ui.days[1:]
    page.goto("/assets/warehouse/shop/orders?view=partitions")
    expect(page.get_by_role("checkbox", name="Materialized (1)")).to_be_checked()
    expect(page.get_by_role("checkbox", name=f"Missing ({len(missing)})")).to_be_checked()
    for day in ui.days:
        expect(page.get_by_title(day, exact=True)).to_be_visible()
    _shot(page, "02-partitions")

    page.get_by_text(f"Missing ({len(missing)})", exact=True).click()  # hide the missing days
    expect(page.get_by_text("1 Partitions Selected")).to_be_visible()
    expect(page.get_by_title(synced, exact=True)).to_be_visible()
    for day in missing:
        expect(page.get_by_title(day, exact=True)).to_have_count(0)
    _shot(page, "03-partitions-materialized-only")

    page.get_by_text(f"Missing ({len(missing)})", exact=True).click()
    page.get_by_text("Materialized (1)", exact=True).click()  # now only the missing days
    expect(page.get_by_text(f"{len(missing)} Partitions Selected")).to_be_visible()
    expect(page.get_by_title(synced, exact=True)).to_have_count(0)
    for day in missing:
        expect(page.get_by_title(day, exact=True)).to_be_visible()
    _shot(page, "04-partitions-missing-only")

    page.get_by_text("Materialized (1)", exact=True).click()
    page.get_by_title(synced, exact=True).click()  # its details: a status badge and the CLI's run
    with dg.DagsterInstance.from_config(str(ui.dagster_home)) as instance:
        (cli_run,) = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": synced}))
    expect(page.get_by_text("Materialized", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=cli_run.run_id[:8], exact=True)).to_be_visible()
    _shot(page, "05-partition-details")


def test_materialize_launched_from_the_ui_succeeds(ui: Ui, page: Page) -> None:
    """Tick both `customers` assets in the catalog, press *Materialize selected*, follow the toast to the run."""
    keys = ["stage/shop/customers", "warehouse/shop/customers"]
    page.goto("/assets")
    expect(page.get_by_text("Never materialized", exact=True)).to_have_count(4)  # customers and products
    for key in keys:
        checkbox = page.get_by_test_id(f"checkbox-{key}")  # the input is hidden behind its styled label
        page.locator("label").filter(has=checkbox).click()
        expect(checkbox).to_be_checked()
    page.get_by_role("button", name="Materialize selected (2)").click()
    toast = page.get_by_role("listitem").filter(has_text="Launched run")
    expect(toast).to_be_visible()
    _shot(page, "06-launched")
    short_id = toast.inner_text().split("Launched run", 1)[1].split()[0]

    toast.get_by_role("link", name="View").click()
    expect(page).to_have_url(re.compile(f"/runs/{short_id}"))
    expect(page.get_by_text("Success", exact=True)).to_be_visible(timeout=180_000)  # the run's status badge
    expect(page.get_by_text("Errored (0)")).to_be_visible()
    _shot(page, "07-run-succeeded")

    with dg.DagsterInstance.from_config(str(ui.dagster_home)) as instance:
        (run,) = [r for r in instance.get_runs() if r.run_id.startswith(short_id)]
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags.get("dagster/from_ui") == "true"
        assert run.asset_selection == {dg.AssetKey(k.split("/")) for k in keys}
        for key in keys:
            assert instance.get_latest_materialization_event(dg.AssetKey(key.split("/"))) is not None, key

    page.goto("/assets")
    expect(page.get_by_text("Materialized", exact=True)).to_have_count(2)
    expect(page.get_by_text("Never materialized", exact=True)).to_have_count(2)  # products, untouched
    _shot(page, "08-catalog-after")


def _window(day: str) -> str:
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return f"[{start.isoformat()}, {(start + timedelta(days=1)).isoformat()})"


def _comparable(value: object) -> object:
    """SQLite holds decimals as REAL and timestamps as ISO text; DuckDB as DECIMAL and TIMESTAMP: compare by value."""
    if isinstance(value, float | Decimal):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?", value):
        return datetime.fromisoformat(value)
    return value


def _rows_by_day(cursor: duckdb.DuckDBPyConnection | sqlite3.Cursor, column: str) -> dict[str, list[tuple]]:
    """The rows of an executed ``SELECT *``, comparable, sorted, by the UTC day of their ``column``."""
    index = [d[0] for d in cursor.description].index(column)
    days: dict[str, list[tuple]] = {}
    for row in cursor.fetchall():
        row = tuple(map(_comparable, row))
        days.setdefault(row[index].date().isoformat(), []).append(row)
    return {day: sorted(rows) for day, rows in days.items()}


def _warehouse_rows_by_day(path: Path, table: str, column: str) -> dict[str, list[tuple]]:
    """``table``'s rows in the DuckDB warehouse by day, read-only; a run holds the file's lock only while it loads."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with duckdb.connect(str(path), read_only=True) as conn:
                return _rows_by_day(conn.execute(f"SELECT * FROM {table}"), column)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_range_backfill_clicked_in_the_browser_loads_exactly_its_days(ui: Ui, page: Page) -> None:
    """Tick both `orders` assets in the catalog, press *Materialize selected*, type three missing days into the
    partitions dialog and launch the backfill: the daemon runs them in one range run, each day gets a materialization
    of its own with its window, and the warehouse holds exactly the source's rows of the synced and chosen days."""
    synced, chosen = ui.days[0], ui.days[2:5]
    untouched = [d for d in ui.days if d != synced and d not in chosen]
    keys = ["stage/shop/orders", "warehouse/shop/orders"]
    asset_keys = {dg.AssetKey(k.split("/")) for k in keys}
    demo = yaml.safe_load(ui.config.read_text())
    table = TableConfig.model_validate(next(t for t in demo["tables"] if t["table"] == "orders"))
    with closing(sqlite3.connect(demo["connections"][table.source]["path"])) as source:
        expected = _rows_by_day(source.execute(f"SELECT * FROM {table.table}"), table.cursor)
    assert all(len(expected[day]) > 100 for day in ui.days), {d: len(r) for d, r in expected.items()}  # ~900 a day

    page.goto("/assets")
    for key in keys:
        checkbox = page.get_by_test_id(f"checkbox-{key}")
        page.locator("label").filter(has=checkbox).click()
        expect(checkbox).to_be_checked()
    page.get_by_role("button", name="Materialize selected (2)").click()  # partitioned: the partitions dialog opens
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Launch runs to materialize 2 assets", exact=True)).to_be_visible()
    selection = dialog.get_by_placeholder("No matching partitions")
    selection.fill(f"[{chosen[0]}...{chosen[-1]}]")
    selection.press("Enter")
    expect(dialog.get_by_text(f"{len(chosen)} partitions", exact=True)).to_be_visible()
    _shot(page, "09-backfill-dialog")

    dialog.get_by_role("button", name="Launch backfill").click()
    toast = page.get_by_role("listitem").filter(has_text="Created backfill")
    expect(toast).to_be_visible()
    _shot(page, "10-backfill-launched")
    backfill_id = toast.inner_text().split("Created backfill", 1)[1].split()[0]
    toast.get_by_role("link", name="View").click()
    expect(page).to_have_url(re.compile(f"/runs/b/{backfill_id}"))

    backfill = ui.server.wait_backfill(backfill_id, BACKFILL_TIMEOUT)
    failures = ui.server.failures(backfill.runs)
    assert backfill.status == "COMPLETED_SUCCESS" and not failures, (backfill.status, backfill.error, failures)
    page.reload()
    badge = page.get_by_text("Succeeded", exact=True).and_(page.locator("span"))  # not the column's header link
    expect(badge).to_be_visible()  # the backfill's status
    expect(page.get_by_text("100% completed", exact=True)).to_have_count(len(keys))  # each asset's progress bar
    expect(page.get_by_text(f"{chosen[0]}...{chosen[-1]}", exact=True)).to_be_visible()  # its partition selection
    _shot(page, "11-backfill-succeeded")

    with ui.server.instance() as instance:
        launched = instance.get_backfill(backfill_id)
        assert launched.tags.get("dagster/from_ui") == "true", launched.tags
        assert set(launched.asset_selection) == asset_keys, launched.asset_selection
        runs, ranges = backfill.runs, [(r.tags.get(RANGE_START), r.tags.get(RANGE_END)) for r in backfill.runs]
        assert all(start and end for start, end in ranges), f"not range runs: {[dict(r.tags) for r in runs]}"
        covered = sorted(d for start, end in ranges for d in ui.days if start <= d <= end)
        assert covered == chosen, f"the runs' ranges {ranges} cover {covered}, not once each of {chosen}"
        assert len(runs) == math.ceil(len(chosen) / table.days_per_run) < len(chosen), ranges
        run_ids = {r.run_id for r in runs}
        for key in asset_keys:
            records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1000).records
            mine = [r for r in records if r.run_id in run_ids]
            described = [(r.partition_key, r.asset_materialization.metadata.get("window")) for r in mine]
            assert sorted(r.partition_key for r in mine) == chosen, f"{key.to_user_string()}: {described}"
            for record in mine:
                metadata = {k: v.value for k, v in record.asset_materialization.metadata.items()}
                assert metadata.get("window") == _window(record.partition_key), (key, record.partition_key, metadata)
                if key.path[0] == "warehouse":
                    assert metadata.get("rows_loaded") == len(expected[record.partition_key]), (key, metadata)

    actual = _warehouse_rows_by_day(
        Path(demo["connections"][table.target]["path"]), f"{table.target_schema}.{table.target_name}", table.cursor
    )
    for day in [synced, *chosen]:
        assert actual.get(day) == expected[day], (
            f"{day}: the warehouse holds {len(actual.get(day, []))} rows, the source {len(expected[day])}"
        )
    assert set(actual) == {synced, *chosen}, f"days held: {sorted(actual)}; never loaded: {untouched}"

    page.goto("/assets/warehouse/shop/orders?view=partitions")
    expect(page.get_by_role("checkbox", name=f"Materialized ({1 + len(chosen)})")).to_be_checked()
    expect(page.get_by_role("checkbox", name=f"Missing ({len(untouched)})")).to_be_checked()
    _shot(page, "12-partitions-after-backfill")
