"""Asset checks against deliberately corrupted targets: the right check fails with the right figures."""

import pytest
from click.testing import CliRunner

from pipeline_assets.cli.main import cli
from pipeline_assets_tests.conftest import pg_connection, write_config

DAY = "2026-01-01"


@pytest.fixture
def synced(pg, pg_schema, wh_schema, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    with pg.cursor() as cur:
        cur.execute(f"""CREATE TABLE "{pg_schema}".orders (id bigint PRIMARY KEY, placed_at timestamptz, amount numeric(10,2));
                        INSERT INTO "{pg_schema}".orders SELECT g, timestamptz '{DAY} 00:00+00' + g * interval '1 minute',
                        g / 4.0 FROM generate_series(1, 1000) g""")
    config = write_config(
        tmp_path,
        {
            "connections": {"app": pg_connection(), "dw": pg_connection()},
            "tables": [
                {
                    "source": "app",
                    "table": f"{pg_schema}.orders",
                    "target": "dw",
                    "target_table": f"{wh_schema}.orders",
                    "cursor": "placed_at",
                    "partitioning": "daily",
                    "start_date": DAY,
                    "primary_key": ["id"],
                }
            ],
        },
    )
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, ["--config", str(config), *args])

    synced = run("sync", "-t", "orders", "--partition", DAY)
    assert synced.exit_code == 0 and "6/6 passed" in synced.output, synced.output + synced.stderr
    return run, pg, f'"{wh_schema}".orders', f'"{pg_schema}".orders'


def _failed(result) -> dict[str, str]:
    """check name -> figures, for every FAILED row of ``check``'s table (rich wraps long cells over lines)."""
    rows, last = {}, None
    for line in result.output.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) != 5:
            continue
        if cells[2]:
            last = cells[2] if cells[3] == "FAILED" else None
            if last:
                rows[last] = cells[4]
        elif last:
            rows[last] += " " + cells[4]
    return rows


def test_clean_partition_passes_every_check(synced):
    run, *_ = synced
    result = run("check", "-t", "orders")
    assert result.exit_code == 0 and "6 of 6 checks passed" in result.output


@pytest.mark.parametrize(
    "corruption, expected",
    [
        (
            "DELETE FROM {target} WHERE id = 500",
            {
                "rows_match_source": "source_rows=1000, target_rows=999, difference=1",
                "checksum_matches_source": "source_sum_id=500500, target_sum_id=500000",
                "total_rows_match_source": "source_rows=1000, target_rows=999, difference=1",
            },
        ),
        (
            "INSERT INTO {target} SELECT * FROM {target} WHERE id = 7",
            {
                "rows_match_source": "source_rows=1000, target_rows=1001, difference=-1",
                "checksum_matches_source": "source_sum_id=500500, target_sum_id=500507",
                "no_duplicate_keys": "duplicate_rows=1, key=id",
                "total_rows_match_source": "source_rows=1000, target_rows=1001, difference=-1",
            },
        ),
        (
            "UPDATE {target} SET amount = amount + 1 WHERE id = 3",
            {"checksum_matches_source": "source_sum_amount=125125.00, target_sum_amount=125126.00"},
        ),
        (
            "ALTER TABLE {target} ALTER COLUMN amount TYPE numeric(12,3)",
            {"schema_matches_source": "problems=amount: numeric(12,3), expected numeric(10,2)"},
        ),
        (
            "INSERT INTO {source} VALUES (5000, timestamptz '2026-01-01 23:00+00', 1.00)",
            {
                "rows_match_source": "source_rows=1001, target_rows=1000, difference=1",
                "checksum_matches_source": "source_sum_id=505500, target_sum_id=500500",
                "total_rows_match_source": "source_rows=1001, target_rows=1000, difference=1",
            },
        ),
    ],
    ids=["deleted row", "duplicated row", "changed value", "changed type", "late data"],
)
def test_corruption_fails_the_right_check_with_figures(corruption, expected, synced):
    run, pg, target, source = synced
    with pg.cursor() as cur:
        cur.execute(corruption.format(target=target, source=source))
    result = run("check", "-t", "orders", "--partition", DAY)
    assert result.exit_code == 1
    failed = _failed(result)
    assert set(failed) == set(expected), result.output
    for name, figures in expected.items():
        assert all(part in failed[name].replace(" ", "") for part in figures.replace(" ", "").split(",")), failed[name]
