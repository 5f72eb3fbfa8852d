"""ReplicationComponent: the path a user takes in a ``dg`` project of their own, and the component's attributes.

The ``dg`` commands run as subprocesses with this venv's ``dg``: a project without a ``.venv`` of its own is loaded
by ``dg`` in its own interpreter, so nothing is downloaded and no ``uv`` is needed.
"""

import json
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipeline_assets.assembly import build_definitions
from pipeline_assets.component import ReplicationComponent
from pipeline_assets.config import load_config
from pipeline_assets.core.errors import ConfigError

DG = Path(sys.executable).parent / "dg"
TYPE = "pipeline_assets.ReplicationComponent"
LISTED_BY = {"assets": "asset_key", "asset_checks": "key", "jobs": "name", "schedules": "name", "sensors": "name"}
REPLICATION = {
    "connections": {
        "src": {"kind": "sqlite", "path": "shop.sqlite"},
        "dw": {"kind": "duckdb", "path": "warehouse.duckdb"},
    },
    "stage": {"url": "stage"},
    "tables": [
        {
            "source": "src",
            "table": "orders",
            "target": "dw",
            "cursor": "ordered_at",
            "partitioning": "daily",
            "start_date": "2026-01-01",
            "primary_key": ["id"],
        },
        {"source": "src", "table": "customers", "target": "dw", "primary_key": ["id"]},
    ],
    "schedule": {"hour": 2, "minute": 15},
}


TYPO_IN_AN_ATTRIBUTE = """\
  confg: replication.yaml
"""
BAD_TABLE_INLINE = """\
  connections:
    src: {kind: sqlite, path: shop.sqlite}
    dw: {kind: duckdb, path: dw.duckdb}
  tables:
    - {source: src, table: orders, target: dw, cursor: ordered_at, partitioning: weekly}
"""


def make_project(root: Path, module: str) -> Path:
    """A minimal ``dg`` project, as a user has one: pyproject with [tool.dg], definitions.py, an empty defs folder."""
    (root / module / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{module}"\nversion = "0.1.0"\n\n[tool.dg]\ndirectory_type = "project"\n\n'
        f'[tool.dg.project]\nroot_module = "{module}"\n'
    )
    (root / module / "__init__.py").write_text("")
    (root / module / "defs" / "__init__.py").write_text("")
    (root / module / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n\n@dg.definitions\ndef defs() -> dg.Definitions:\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n"
    )
    return root / module / "defs"


def run_dg(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DAGSTER_HOME": str(project / "dagster_home"), "DAGSTER_DISABLE_TELEMETRY": "1"}
    (project / "dagster_home").mkdir(exist_ok=True)
    return subprocess.run(
        [str(DG), *args], cwd=project, env=env, check=False, capture_output=True, text=True, timeout=300
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def write_shop(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript("""
            CREATE TABLE orders (id INTEGER PRIMARY KEY, total DECIMAL(10,2) NOT NULL, ordered_at TIMESTAMP NOT NULL);
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            INSERT INTO orders VALUES (1, 10.50, '2026-01-01 10:00:00'), (2, 3.25, '2026-01-02 00:00:00'),
                                      (3, 7.00, '2026-01-02 23:59:59'), (4, 1.00, '2026-01-03 00:00:00');
            INSERT INTO customers VALUES (1, 'Ada'), (2, 'Grace');
        """)


def definition_names(d: dg.Definitions) -> dict[str, set[str]]:
    """What ``dg list defs --json`` lists, computed from a Definitions object."""
    checks = {key for a in [*d.assets, *d.asset_checks] for key in a.check_keys}
    return {
        "assets": {key.to_user_string() for a in d.assets for key in a.keys},
        "asset_checks": {f"{key.asset_key.to_user_string()}:{key.name}" for key in checks},
        "jobs": {j.name for j in d.jobs},
        "schedules": {s.name for s in d.schedules},
        "sensors": {s.name for s in d.sensors},
    }


def test_importing_the_package_does_not_import_dagster():
    code = (
        "import sys, pipeline_assets\n"
        "assert 'dagster' not in sys.modules\n"
        "assert 'ReplicationComponent' in dir(pipeline_assets)\n"
        "print(pipeline_assets.ReplicationComponent.__module__)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pipeline_assets.component"


def test_a_user_scaffolds_checks_lists_and_launches(tmp_path):
    defs = make_project(tmp_path, "shop_project")
    listed_components = json.loads(run_dg(tmp_path, "list", "components", "--json").stdout)["items"]
    assert TYPE in {c["key"] for c in listed_components}

    ok(run_dg(tmp_path, "scaffold", "defs", TYPE, "ingest"))
    folder = defs / "ingest"
    assert yaml.safe_load((folder / "defs.yaml").read_text()) == {
        "type": TYPE,
        "attributes": {"config": "replication.yaml"},
    }
    example = load_config(folder / "replication.yaml")  # the scaffolded example is a valid replication
    assert {t.table for t in example.tables} == {"orders", "customers"}

    write_shop(folder / "shop.sqlite")
    (folder / "replication.yaml").write_text(yaml.safe_dump(REPLICATION, sort_keys=False))
    assert "All definitions loaded successfully." in ok(run_dg(tmp_path, "check", "defs"))

    listed = json.loads(run_dg(tmp_path, "list", "defs", "--json").stdout)
    expected = definition_names(build_definitions(load_config(folder / "replication.yaml")))
    assert {kind: {entry[field] for entry in listed[kind]} for kind, field in LISTED_BY.items()} == expected
    assert {"stage/src/orders", "dw/src/orders", "stage/src/customers", "dw/src/customers"} <= expected["assets"]
    assert {s["name"]: s["cron_schedule"] for s in listed["schedules"]}["src_daily_schedule"] == "15 2 * * *"

    output = ok(run_dg(tmp_path, "launch", "--assets", "stage/src/orders,dw/src/orders", "--partition", "2026-01-02"))
    assert "RUN_SUCCESS" in output
    assert "Asset check 'rows_match_source' on 'dw/src/orders' passed." in output
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.sql("SELECT id, total FROM src.orders ORDER BY id").fetchall() == [
            (2, Decimal("3.25")),
            (3, Decimal("7.00")),
        ]


@pytest.mark.parametrize(
    ("attributes", "culprit"),
    [
        (
            TYPO_IN_AN_ATTRIBUTE,
            (
                "{folder}/defs.yaml:4 - pipeline_assets.ReplicationComponent attributes.confg Additional properties "
                "are not allowed ('confg' was unexpected)"
            ),
        ),
        (
            BAD_TABLE_INLINE,
            (
                "ConfigError: ReplicationComponent in {folder}: tables[0].partitioning: got 'weekly'; input should "
                "be 'daily', 'incremental' or 'none'"
            ),
        ),
    ],
    ids=["typo_in_an_attribute", "bad_table_inline"],
)
def test_dg_check_defs_names_the_culprit(tmp_path, attributes, culprit):
    folder = make_project(tmp_path, "bad_project") / "ingest"
    folder.mkdir()
    (folder / "defs.yaml").write_text(f"type: {TYPE}\n\nattributes:\n{attributes}")
    result = run_dg(tmp_path, "check", "defs")
    assert result.returncode == 1
    assert culprit.format(folder=folder) in result.stdout + result.stderr


def test_inline_attributes_with_env_templating_build_what_the_file_builds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a component built outside a defs folder resolves relative paths from here
    monkeypatch.setenv("PA_TEST_WAREHOUSE_FILE", "templated.duckdb")
    body = {
        **REPLICATION,
        "connections": {
            **REPLICATION["connections"],
            "dw": {"kind": "duckdb", "path": "{{ env.PA_TEST_WAREHOUSE_FILE }}"},
        },
    }
    component = ReplicationComponent.resolve_from_dict(body)
    assert component.project(tmp_path).connections["dw"].path == str(tmp_path / "templated.duckdb")

    file = tmp_path / "replication.yaml"
    file.write_text(yaml.safe_dump(REPLICATION, sort_keys=False))
    from_file = definition_names(build_definitions(load_config(file)))
    assert definition_names(dg.build_defs_for_component(component)) == from_file
    assert definition_names(dg.build_defs_for_component(ReplicationComponent(config=str(file)))) == from_file


def test_no_attributes_use_the_configured_project(tmp_path, monkeypatch):
    file = tmp_path / "replication.yaml"
    file.write_text(yaml.safe_dump(REPLICATION, sort_keys=False))
    monkeypatch.setenv("PIPELINE_ASSETS_CONFIG", str(file))
    expected = definition_names(build_definitions(load_config(file)))
    assert definition_names(dg.build_defs_for_component(ReplicationComponent())) == expected


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"config": "replication.yaml", "tables": []}, "give config or the inline tables, not both"),
        ({"config": "{{ env.PA_TEST_UNSET_VARIABLE }}"}, "config is empty (an unset environment variable?)"),
        ({"tables": [{"source": "nowhere", "table": "t", "target": "dw"}]}, "connections: Field required"),
    ],
)
def test_attribute_mistakes_are_one_line(tmp_path, attributes, message):
    component = ReplicationComponent.resolve_from_dict(attributes)
    with pytest.raises(ConfigError) as raised:
        component.project(tmp_path)
    assert str(raised.value) == f"ReplicationComponent in {tmp_path}: {message}"
