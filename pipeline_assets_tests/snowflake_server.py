"""A stand-in for Snowflake: fakesnow's server (a Snowflake HTTP API over DuckDB) in this process, reached by the
real snowflake-connector-python through dagster-snowflake's ``SnowflakeResource``. It cannot download DuckDB's
httpfs, so S3 is reached through s3fs registered on its DuckDB connection, pointed at the test S3 server.

Snowflake's transaction rules are enforced on it by ``SnowflakeRules`` (snowflake_rules.py): DDL commits the open
transaction, ``SWAP WITH`` runs, an UPDATE/DELETE/MERGE waits for another session's lock on its table.

What it cannot do (so the tests check those statements by their text, parsed in Snowflake's dialect): unload
(``COPY INTO 's3://…' FROM (SELECT …)``), ``ON_ERROR`` other than ``ABORT_STATEMENT``."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import fakesnow
import s3fs
import snowflake.connector

from pipeline_assets_tests.s3_server import S3Server
from pipeline_assets_tests.snowflake_rules import SnowflakeRules

DATABASE = "PA_TEST"
PASSWORD_ENV = {"PA_TEST_SF_PASSWORD": "snow"}


@dataclass(frozen=True)
class SnowflakeServer:
    host: str
    port: int
    rules: SnowflakeRules

    def connection(self, **extra) -> dict:
        """A ``connections:`` entry for the config file."""
        return {
            "kind": "snowflake",
            "host": self.host,
            "port": self.port,
            "user": "fake",
            "password": "${PA_TEST_SF_PASSWORD}",
            "database": DATABASE,
            "snowflake": {"account": "fakesnow", "protocol": "http", **extra},
        }

    def connect(self):
        """A connector session, for the tests' own queries."""
        return snowflake.connector.connect(
            user="fake",
            password="snow",
            account="fakesnow",
            host=self.host,
            port=self.port,
            protocol="http",
            database=DATABASE,
            network_timeout=10,
        )

    def query(self, sql: str, params: tuple | None = None) -> list[tuple]:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()


@contextmanager
def fakesnow_server(s3: S3Server) -> Iterator[SnowflakeServer]:
    start = fakesnow.server  # taken before `import fakesnow.server` shadows the function with the module
    import fakesnow.server as server_module

    filesystem = s3fs.S3FileSystem(key=s3.access_key, secret=s3.secret_key, endpoint_url=s3.endpoint_url)
    server_module.shared_fs.duck_conn.register_filesystem(filesystem)
    with SnowflakeRules().installed() as rules, start() as kwargs:
        server = SnowflakeServer(kwargs["host"], kwargs["port"], rules)
        with server.connect() as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        yield server
