"""The classification is used where failures happen: a source or warehouse that cannot connect fails at once (no
retry of a wrong address), and a connection dropped in the middle of work is a TransientError (the step retries)."""

import socket

import psycopg2
import pytest

from pipeline_assets.config.connections import parse_connection
from pipeline_assets.core.errors import PipelineError, TransientError
from pipeline_assets.sources import open_source
from pipeline_assets.warehouses import open_warehouse
from pipeline_assets_tests.conftest import MYSQL, PG


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_a_wrong_port_fails_at_once_naming_the_connection(kind):
    port = _closed_port()
    config = parse_connection(
        {"kind": kind, "host": "127.0.0.1", "port": port, "user": "root", "database": "test", "connect_timeout": 2}
    )
    with pytest.raises(PipelineError) as raised:
        open_source("db", config, None).discover("t")
    assert type(raised.value) is PipelineError, "a refused connection is a wrong address: never retried"
    assert str(raised.value).startswith(f"source 'db' ({kind} 127.0.0.1:{port}/test): cannot connect: ")


def test_a_warehouse_that_cannot_connect_fails_at_once():
    port = _closed_port()
    config = parse_connection(
        {"kind": "postgres", "host": "127.0.0.1", "port": port, "user": "postgres", "database": "test"}
    )
    warehouse = open_warehouse("wh", config, None)
    with pytest.raises(PipelineError) as raised, warehouse.state():
        pass
    assert type(raised.value) is PipelineError
    assert str(raised.value).startswith(f"warehouse 'wh': cannot connect to postgres 127.0.0.1:{port}/test: ")


def test_a_connection_dropped_mid_work_is_retried_and_the_next_use_reconnects():
    config = parse_connection(
        {"kind": "postgres", "host": PG["host"], "port": PG["port"], "user": PG["user"], "database": PG["dbname"]}
    )
    warehouse = open_warehouse("wh", config, None)
    try:
        with warehouse.state() as state:  # the warehouse keeps this connection for its next transaction
            (pid,) = state.tx.execute("SELECT pg_backend_pid()")[0]
        with psycopg2.connect(**PG) as admin, admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(TransientError) as raised, warehouse.state() as state:
            state.tx.execute("SELECT 1")
        assert str(raised.value).startswith("warehouse 'wh' (postgres ")
        with warehouse.state() as state:  # the dropped connection was discarded: a retry works
            assert state.tx.execute("SELECT 1") == [(1,)]
    finally:
        warehouse.close()


def test_mysql_source_gets_the_right_credentials_error():
    config = parse_connection(
        {"kind": "mysql", "host": MYSQL["host"], "port": MYSQL["port"], "user": "nobody_here", "database": "test"}
    )
    with pytest.raises(PipelineError) as raised:
        open_source("db", config, None).discover("t")
    assert type(raised.value) is PipelineError and "cannot connect" in str(raised.value)
