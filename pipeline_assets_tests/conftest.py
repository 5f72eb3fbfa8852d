"""Fixtures: the machine's PostgreSQL and MariaDB over real connections, a real S3 server, a Dagster instance.

A service that cannot be reached fails the test (it never skips), so a green run means every path ran."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pymysql
import pytest
import yaml

from pipeline_assets.config import ProjectConfig, load_config
from pipeline_assets.warehouses import WAREHOUSES
from pipeline_assets_tests.s3_server import S3Server, seaweedfs
from pipeline_assets_tests.snowflake_server import PASSWORD_ENV, SnowflakeServer, fakesnow_server

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}
S3_ENV = {"PA_TEST_S3_KEY_ID": "pipeline-test-key", "PA_TEST_S3_SECRET": "pipeline-test-secret"}


def _require(service: str, connect):
    try:
        return connect()
    except Exception as exc:
        pytest.fail(f"{service} is not reachable ({exc}); the tests need it running (see README, Tests)", pytrace=False)


@pytest.fixture
def pg() -> Iterator[psycopg2.extensions.connection]:
    conn = _require("PostgreSQL at 127.0.0.1:5432", lambda: psycopg2.connect(**PG))
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def pg_schema(pg) -> Iterator[str]:
    """A fresh PostgreSQL schema (source side), dropped afterwards."""
    name = f"pa_src_{uuid.uuid4().hex[:8]}"
    with pg.cursor() as cur:
        cur.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with pg.cursor() as cur:
        cur.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture
def wh_schema(pg) -> Iterator[str]:
    """The name of a PostgreSQL warehouse schema (created by the loader), dropped afterwards."""
    name = f"pa_wh_{uuid.uuid4().hex[:8]}"
    yield name
    with pg.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def mysql_db() -> Iterator[str]:
    """A fresh MariaDB database, dropped afterwards."""
    name = f"pa_test_{uuid.uuid4().hex[:8]}"
    conn = _require("MariaDB at 127.0.0.1:3306", lambda: pymysql.connect(**MYSQL, autocommit=True))
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    yield name
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE `{name}`")
    conn.close()


@pytest.fixture
def mysql(mysql_db) -> Iterator[pymysql.Connection]:
    conn = pymysql.connect(**{**MYSQL, "database": mysql_db}, autocommit=True, charset="utf8mb4")
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    try:
        with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(f"the S3 test server did not start: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def snowflake_server(s3_server) -> Iterator[SnowflakeServer]:
    """fakesnow's Snowflake API server, reading the S3 test server (see snowflake_server.py for what it lacks)."""
    with fakesnow_server(s3_server) as server:
        yield server


@pytest.fixture
def snowflake(snowflake_server, monkeypatch) -> SnowflakeServer:
    for key, value in PASSWORD_ENV.items():
        monkeypatch.setenv(key, value)
    return snowflake_server


@pytest.fixture
def redshift(pg, s3_server, monkeypatch):
    """Route ``kind: redshift`` to the emulated-COPY warehouse on PostgreSQL (see redshift_emulator.py); yields what
    its COPYs saw."""
    # imported here: the emulator imports this module
    from pipeline_assets_tests.redshift_emulator import EmulatedRedshift, Emulation, install

    emulation = Emulation(s3_server.client(), f"pa_rs_sys_{uuid.uuid4().hex[:8]}")
    install(pg, emulation)
    monkeypatch.setitem(WAREHOUSES, "redshift", EmulatedRedshift)
    yield emulation
    with pg.cursor() as cur:
        cur.execute(f'DROP SCHEMA "{emulation.system_schema}" CASCADE')


@pytest.fixture
def s3_bucket(s3_server, monkeypatch) -> str:
    """A fresh bucket on the S3 server; its credentials are in the environment as the config expects."""
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    name = f"pa-{uuid.uuid4().hex[:10]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def s3_stage(server: S3Server, bucket: str, **extra) -> dict:
    return {
        "url": f"s3://{bucket}/staging",
        "s3": {
            "endpoint_url": server.endpoint_url,
            "access_key_id": "${PA_TEST_S3_KEY_ID}",
            "secret_access_key": "${PA_TEST_S3_SECRET}",
        },
        **extra,
    }


def pg_connection(**extra) -> dict:
    return {
        "kind": "postgres",
        "host": PG["host"],
        "port": PG["port"],
        "user": PG["user"],
        "database": PG["dbname"],
        **extra,
    }


def mysql_connection(database: str, **extra) -> dict:
    return {
        "kind": "mysql",
        "host": MYSQL["host"],
        "port": MYSQL["port"],
        "user": MYSQL["user"],
        "database": database,
        **extra,
    }


def write_config(tmp_path: Path, body: dict) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def project(tmp_path: Path, body: dict) -> ProjectConfig:
    return load_config(write_config(tmp_path, body))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Keep every test's demo folder and Dagster home inside its own tmp_path."""
    monkeypatch.setenv("PIPELINE_ASSETS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PIPELINE_ASSETS_CONFIG", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


_STAND_IN_FIXTURES = {"redshift", "snowflake", "snowflake_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a warehouse's stand-in is marked ``stand_in`` however it reaches it (a module's tests, one
    parametrized case, a test of the error classifier)."""
    for item in items:
        if _STAND_IN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stand_in)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many of the tests that ran did so on a stand-in (marked ``stand_in``) rather than the real thing."""
    ran: dict[str, bool] = {}
    for outcome in ("passed", "failed", "error", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(outcome, []):
            if isinstance(report, pytest.TestReport):
                ran[report.nodeid] = ran.get(report.nodeid, False) or "stand_in" in report.keywords
    stand_ins = sum(ran.values())
    terminalreporter.write_line(
        f"{stand_ins} of {len(ran)} tests ran on stand-ins (Redshift: PostgreSQL + COPY emulator; Snowflake: "
        f"fakesnow); the other {len(ran) - stand_ins} used none"
    )
