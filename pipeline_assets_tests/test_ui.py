"""The Dagster UI, tested as a person would: a real `dagster dev` and Debian's Chromium driven by Playwright.

One webserver serves every test of this module. The demo is generated, one day of `orders` is synced by the CLI,
and the UI must show the assets, that day's partition as materialized (the others missing), and run a
materialization launched from its own buttons. Screenshots of each step go to test-artifacts/ui/."""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml
from playwright.sync_api import Page, expect, sync_playwright

from pipeline_assets.demo.shop import ensure_demo
from pipeline_assets_tests.daemon import free_port as _free_port
from pipeline_assets_tests.daemon import stop_group as _stop_group
from pipeline_assets_tests.daemon import wait_until_up as _wait_until_up

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "ui"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
UI_TIMEOUT_MS = 60_000  # the machine is slow; a person would wait too


@dataclass(frozen=True)
class Ui:
    url: str
    dagster_home: Path
    tables: list[str]
    days: list[str]  # every daily partition, oldest first; days[0] is the one the CLI synced


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
    env = {**os.environ, "PIPELINE_ASSETS_HOME": str(home), "DAGSTER_HOME": str(dagster_home),
           "DAGSTER_DISABLE_TELEMETRY": "1"}  # fmt: skip
    env.pop("PIPELINE_ASSETS_CONFIG", None)
    demo = yaml.safe_load(ensure_demo(home).read_text())
    first = date.fromisoformat(str(demo["tables"][0]["start_date"]))
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [(first + timedelta(days=n)).isoformat() for n in range((yesterday - first).days + 1)]
    sync = subprocess.run([sys.executable, "-m", "pipeline_assets", "sync", "-t", "orders", "--partition", days[0]],
                          env=env, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert sync.returncode == 0, sync.stderr

    url, log = f"http://127.0.0.1:{_free_port()}", root / "dagster_dev.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("dagster")), "dev", "-m", "pipeline_assets.definitions",
                                 "-p", url.rsplit(":", 1)[1], "-h", "127.0.0.1"],
                                cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        _wait_until_up(proc, url, log)
        yield Ui(url, dagster_home, [t["table"] for t in demo["tables"]], days)
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
