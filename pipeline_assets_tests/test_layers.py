"""The package's layers only point down: each package imports only the ones below it (README "Layout"), Dagster
stays in the layers that define Dagster objects, and importing a lower layer loads no driver."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import pipeline_assets

PACKAGE = Path(pipeline_assets.__file__).parent
_ENGINE = {"core", "config", "connect", "sources", "stage", "warehouses"}
_DAGSTER = _ENGINE | {"resources", "assets", "sensors", "autoload"}
# Each unit (a subpackage, or a top-level module) and the units it may import.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "config": {"core"},
    "connect": {"core", "config"},
    "sources": {"core", "config", "connect"},
    "stage": {"core", "config"},
    "warehouses": {"core", "config", "connect"},
    "resources": _ENGINE,
    "assets": _ENGINE | {"resources"},
    "sensors": _ENGINE | {"resources", "assets"},
    "autoload": _ENGINE | {"resources", "assets", "sensors"},
    "demo": set(),
    "project": {"core", "config", "demo"},
    "assembly": _DAGSTER,
    "component_scaffolder": set(),
    "component": _DAGSTER | {"project", "assembly", "component_scaffolder"},
    "definitions": {"component"},
    "cli": _DAGSTER | {"project", "assembly", "demo"},
    "__main__": {"cli"},
    "__init__": {"component"},
}
# Layers below the Dagster ones: no module-level import of Dagster there.
NO_DAGSTER = _ENGINE | {"demo", "project", "__init__"}
DRIVERS = [
    "dagster",
    "psycopg2",
    "pymysql",
    "duckdb",
    "boto3",
    "adbc_driver_postgresql",
    "snowflake.connector",
    "dagster_snowflake",
    "sshtunnel",
]


def _unit(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, imported at module level) for every import in ``path``."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, id(node) in top))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, id(node) in top) for alias in node.names)
    return found


def test_every_unit_imports_only_the_layers_below_it():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        unit = _unit(path)
        assert unit in ALLOWED, f"{path}: a new package or module; give it a place in ALLOWED (and the README)"
        for module, _ in _imports(path):
            parts = module.split(".")
            if parts[0] == "pipeline_assets" and len(parts) > 1 and parts[1] != unit and parts[1] not in ALLOWED[unit]:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_dagster_below_the_dagster_layers():
    wrong = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if _unit(path) in NO_DAGSTER
        for module, top_level in _imports(path)
        if top_level and module.split(".")[0] in ("dagster", "dagster_aws", "dagster_snowflake")
    ]
    assert not wrong, "\n".join(wrong)


def test_importing_the_engine_loads_no_dagster_and_no_driver():
    modules = [
        "pipeline_assets.config",
        "pipeline_assets.sources",
        "pipeline_assets.warehouses",
        "pipeline_assets.stage.local",
        "pipeline_assets.stage.staging",
        "pipeline_assets.connect.snowflake",
    ]
    code = f"import sys\nfor m in {modules!r}: __import__(m)\nprint([d for d in {DRIVERS!r} if d in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_opening_a_kind_loads_only_its_driver():
    code = (
        "import sys\nfrom pipeline_assets.sources import SOURCES\nSOURCES['mysql']\n"
        "print(sorted(d for d in ('pymysql', 'psycopg2', 'duckdb', 'adbc_driver_postgresql') if d in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['pymysql']", result.stdout + result.stderr


def test_a_warehouse_kind_missing_a_hook_its_capabilities_need_fails_when_defined():
    from pipeline_assets.warehouses.base import Warehouse
    from pipeline_assets.warehouses.contract import Capabilities

    with pytest.raises(TypeError, match="NoCopy: its capabilities need copy_from_stage, hold_lock"):

        class NoCopy(Warehouse):
            capabilities = Capabilities(
                savepoints=False,
                server_side_copy=True,
                transactional_ddl=True,
                row_level_errors=False,
                lock="before_ddl",
            )
