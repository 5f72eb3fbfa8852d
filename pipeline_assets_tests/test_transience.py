"""``core.transience`` on real failures: each driver's errors provoked over real connections to the machine's
PostgreSQL and MariaDB, real DuckDB and SQLite files, the S3 test server, fakesnow and a real sshd, plus small local
servers that answer as a throttled S3 or a failing Snowflake would, so each error comes out of the driver's own code.

Every test checks the failure was the one meant (its class or code), then how ``is_transient`` judges it in both
phases: NOT_NOW (retried whether connecting or working), LOST (retried only mid-work) or PERMANENT (never)."""

import http.client
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import adbc_driver_manager
import adbc_driver_postgresql.dbapi as adbc
import boto3
import duckdb
import paramiko
import psycopg2
import pymysql
import pytest
import snowflake.connector
from botocore.config import Config
from snowflake.connector.network import RetryRequest

from pipeline_assets.core.errors import PipelineError, TransientError
from pipeline_assets.core.transience import Phase, is_transient
from pipeline_assets.warehouses.tunnel import _Forwarder
from pipeline_assets_tests.conftest import MYSQL, PG
from pipeline_assets_tests.s3_server import ACCESS_KEY, SECRET_KEY
from pipeline_assets_tests.sshd import sshd

NOT_NOW, LOST, PERMANENT = "not now", "lost", "permanent"


def judged(exc: BaseException) -> str:
    """How ``is_transient`` treats ``exc``: retried in both phases, only mid-work, or never."""
    phases = (is_transient(exc, Phase.CONNECT), is_transient(exc, Phase.WORK))
    return {(True, True): NOT_NOW, (False, True): LOST, (False, False): PERMANENT}[phases]


def raised(fn: Callable, *args, **kwargs) -> BaseException:
    with pytest.raises(Exception) as info:
        fn(*args, **kwargs)
    return info.value


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_fails(first, first_sql: str, second, second_sql: str) -> BaseException:
    """Run ``first_sql`` on ``first`` and, once it waits, ``second_sql`` on ``second`` (two DB-API connections
    each holding a row the other wants); the one that fails rolls back so the other can finish. Its error."""

    def attempt(conn, sql: str) -> BaseException | None:
        try:
            conn.cursor().execute(sql)
        except (psycopg2.Error, pymysql.MySQLError) as exc:
            conn.rollback()
            return exc
        return None

    with ThreadPoolExecutor(2) as pool:
        waiting = pool.submit(attempt, first, first_sql)
        time.sleep(0.3)
        closing_the_cycle = pool.submit(attempt, second, second_sql)
        (error,) = [e for e in (waiting.result(timeout=30), closing_the_cycle.result(timeout=30)) if e is not None]
    return error


# PostgreSQL, through psycopg2 and through ADBC (both libpq underneath)


def pg_open(driver: str, **extra):
    params = {**PG, **extra}
    if driver == "psycopg2":
        return psycopg2.connect(**params)
    return adbc.connect(f"postgresql://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}")


def run(cur, sql: str) -> None:
    """Execute ``sql`` and fetch what it returns (ADBC runs a query only as its rows are read)."""
    cur.execute(sql)
    if cur.description:
        cur.fetchall()


def sqlstate(exc: BaseException) -> str | None:
    return getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)


@pytest.fixture
def pg_table(pg, pg_schema) -> str:
    """A table with rows 1 and 2 in a fresh schema."""
    table = f'"{pg_schema}".t'
    with pg.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v int); INSERT INTO {table} VALUES (1, 0), (2, 0)")
    return table


DRIVERS = ["psycopg2", "adbc"]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(
    "extra",
    [lambda: {"port": free_port()}, lambda: {"dbname": "pa_no_such_db"}, lambda: {"user": "pa_no_such_role"}],
    ids=["wrong port", "unknown database", "unknown role"],
)
def test_postgres_refused_connection_is_permanent_when_connecting(driver, extra):
    """libpq's failure to connect carries no SQLSTATE: a wrong port must not be retried."""
    exc = raised(pg_open, driver, **extra())
    assert sqlstate(exc) is None
    assert judged(exc) == LOST


@pytest.fixture
def pg_role(pg) -> Iterator[str]:
    """A login role allowed one connection at a time."""
    name = f"pa_lim_{uuid.uuid4().hex[:8]}"
    with pg.cursor() as cur:
        cur.execute(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT 1')
    yield name
    with pg.cursor() as cur:
        cur.execute(f'DROP ROLE "{name}"')


@pytest.mark.parametrize("driver", DRIVERS)
def test_postgres_too_many_connections_is_not_now_even_when_connecting(driver, pg_role):
    """53300 too_many_connections, which libpq reports by its message alone."""
    with closing(pg_open("psycopg2", user=pg_role)):
        exc = raised(pg_open, driver, user=pg_role)
    assert "too many connections" in str(exc)
    assert judged(exc) == NOT_NOW


def terminate(pg, conn) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        (pid,) = cur.fetchone()
    with pg.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


@pytest.mark.parametrize("driver", DRIVERS)
def test_postgres_connection_terminated_under_an_open_connection_is_lost(driver, pg):
    conn = pg_open(driver)
    try:
        terminate(pg, conn)
        first = raised(run, conn.cursor(), "SELECT 1")
        again = raised(lambda: run(conn.cursor(), "SELECT 1"))
    finally:
        conn.close()
    assert type(first).__name__ == "OperationalError"
    assert is_transient(first, Phase.WORK)  # LOST, or NOT_NOW should libpq have read the server's 57P01 in time
    assert judged(again) == LOST  # psycopg2: InterfaceError "connection already closed"; ADBC: "no connection"


def test_postgres_terminated_while_a_query_runs_is_not_now(pg):
    """ADBC hands over the server's 57P01 admin_shutdown when the backend dies mid-query."""
    with closing(pg_open("adbc")) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        (pid,) = cur.fetchone()
        killer = threading.Timer(0.5, lambda: pg.cursor().execute("SELECT pg_terminate_backend(%s)", [pid]))
        killer.start()
        exc = raised(run, cur, "SELECT pg_sleep(10)")
        killer.join()
    assert sqlstate(exc) == "57P01"
    assert judged(exc) == NOT_NOW


@pytest.mark.parametrize("driver", DRIVERS)
def test_postgres_lock_not_available_is_not_now(driver, pg_table):
    with closing(pg_open("psycopg2")) as holder, closing(pg_open(driver)) as conn:
        holder.cursor().execute(f"SELECT * FROM {pg_table} WHERE id = 1 FOR UPDATE")
        exc = raised(run, conn.cursor(), f"SELECT * FROM {pg_table} WHERE id = 1 FOR UPDATE NOWAIT")
    assert sqlstate(exc) == "55P03"
    assert judged(exc) == NOT_NOW


def test_postgres_deadlock_is_not_now(pg_table):
    with closing(pg_open("psycopg2")) as a, closing(pg_open("psycopg2")) as b:
        for conn, row in ((a, 1), (b, 2)):
            conn.cursor().execute(f"SET deadlock_timeout = '100ms'; UPDATE {pg_table} SET v = 1 WHERE id = {row}")
        exc = first_fails(
            a, f"UPDATE {pg_table} SET v = 2 WHERE id = 2", b, f"UPDATE {pg_table} SET v = 2 WHERE id = 1"
        )
    assert sqlstate(exc) == "40P01"
    assert judged(exc) == NOT_NOW


def test_postgres_serialization_failure_is_not_now(pg_table):
    with closing(pg_open("psycopg2")) as a, closing(pg_open("psycopg2")) as b:
        for conn in (a, b):
            conn.set_session(isolation_level="SERIALIZABLE")
            conn.cursor().execute(f"SELECT sum(v) FROM {pg_table}")
        a.cursor().execute(f"INSERT INTO {pg_table} VALUES (3, 0)")
        b.cursor().execute(f"INSERT INTO {pg_table} VALUES (4, 0)")
        a.commit()
        exc = raised(b.commit)
    assert sqlstate(exc) == "40001"
    assert judged(exc) == NOT_NOW


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(
    ("statements", "code"),
    [
        (["SELEC 1"], "42601"),
        (["SELECT * FROM pa_no_such_table"], "42P01"),
        (["SELECT 1 / 0"], "22012"),
        (["CREATE TEMP TABLE u (id int PRIMARY KEY)", "INSERT INTO u VALUES (1), (1)"], "23505"),
        (["SET statement_timeout = 50", "SELECT pg_sleep(2)"], "57014"),
    ],
    ids=["syntax", "undefined table", "division by zero", "unique violation", "statement timeout"],
)
def test_postgres_statement_errors_are_permanent(driver, statements, code):
    with closing(pg_open(driver)) as conn, closing(conn.cursor()) as cur:
        for sql in statements[:-1]:
            cur.execute(sql)
        exc = raised(run, cur, statements[-1])
    assert sqlstate(exc) == code
    assert judged(exc) == PERMANENT


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("53100", NOT_NOW),
        ("53200", NOT_NOW),
        ("53300", NOT_NOW),
        ("57P02", NOT_NOW),
        ("57P03", NOT_NOW),
        ("57P05", NOT_NOW),
        ("08006", LOST),
        ("28P01", PERMANENT),
        ("3D000", PERMANENT),
    ],
)
def test_postgres_sqlstates_that_need_the_whole_server(code, expected):
    """Built by hand (as ADBC builds them, with the server's SQLSTATE): a full disk, exhausted memory or connection
    slots met mid-query, a crash, a server starting up, an idle session timed out; and what libpq reports without a
    code (a broken connection, a wrong password) were a server ever to send it. None can be caused here without
    disturbing the machine's shared PostgreSQL or waiting out its timeouts."""
    exc = adbc_driver_manager.OperationalError("", status_code=adbc_driver_manager.AdbcStatusCode.IO, sqlstate=code)
    assert judged(exc) == expected


# MariaDB, through PyMySQL


def mysql_open(**extra) -> pymysql.Connection:
    return pymysql.connect(**{**MYSQL, **extra})


def mysql_code(exc: BaseException) -> int:
    return exc.args[0]


@pytest.mark.parametrize(
    ("extra", "code", "expected"),
    [
        (lambda: {"port": free_port()}, 2003, LOST),
        (lambda: {"password": "wrong"}, 1045, PERMANENT),
        (lambda: {"database": "pa_no_such_db"}, 1049, PERMANENT),
    ],
    ids=["wrong port", "wrong password", "unknown database"],
)
def test_mariadb_failures_to_connect(extra, code, expected):
    """2003 (can't connect) is permanent while connecting, like the wrong password and the unknown database."""
    exc = raised(mysql_open, **extra())
    assert mysql_code(exc) == code
    assert judged(exc) == expected


@pytest.fixture
def mysql_user(mysql) -> Iterator[str]:
    """A user allowed one connection at a time."""
    name = f"pa_lim_{uuid.uuid4().hex[:8]}"
    with mysql.cursor() as cur:
        cur.execute(f"CREATE USER '{name}'@'127.0.0.1' WITH MAX_USER_CONNECTIONS 1")
    yield name
    with mysql.cursor() as cur:
        cur.execute(f"DROP USER '{name}'@'127.0.0.1'")


def test_mariadb_max_user_connections_is_not_now_even_when_connecting(mysql_user):
    with closing(mysql_open(user=mysql_user, database=None)):
        exc = raised(mysql_open, user=mysql_user, database=None)
    assert mysql_code(exc) == 1226
    assert judged(exc) == NOT_NOW


def test_mariadb_killed_connection_is_lost(mysql):
    with closing(mysql_open()) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT CONNECTION_ID()")
            (victim,) = cur.fetchone()
        mysql.cursor().execute(f"KILL {victim}")
        first = raised(conn.cursor().execute, "SELECT 1")
        again = raised(conn.cursor().execute, "SELECT 1")
    assert mysql_code(first) in (2006, 2013)  # server gone away / lost connection during query
    assert judged(first) == LOST
    assert isinstance(again, pymysql.InterfaceError)  # not connected
    assert judged(again) == LOST


@pytest.fixture
def mysql_table(mysql, mysql_db) -> str:
    with mysql.cursor() as cur:
        cur.execute("CREATE TABLE t (id int PRIMARY KEY, v int) ENGINE = InnoDB")
        cur.execute("INSERT INTO t VALUES (1, 0), (2, 0)")
    return f"`{mysql_db}`.t"


def test_mariadb_lock_wait_timeout_is_not_now(mysql_table):
    with closing(mysql_open()) as holder, closing(mysql_open()) as waiter:
        holder.begin()
        holder.cursor().execute(f"SELECT * FROM {mysql_table} WHERE id = 1 FOR UPDATE")
        waiter.cursor().execute("SET SESSION innodb_lock_wait_timeout = 1")
        waiter.begin()
        exc = raised(waiter.cursor().execute, f"SELECT * FROM {mysql_table} WHERE id = 1 FOR UPDATE")
    assert mysql_code(exc) == 1205
    assert judged(exc) == NOT_NOW


def test_mariadb_deadlock_is_not_now(mysql_table):
    with closing(mysql_open()) as a, closing(mysql_open()) as b:
        for conn, row in ((a, 1), (b, 2)):
            conn.begin()
            conn.cursor().execute(f"UPDATE {mysql_table} SET v = 1 WHERE id = {row}")
        exc = first_fails(
            a, f"UPDATE {mysql_table} SET v = 2 WHERE id = 2", b, f"UPDATE {mysql_table} SET v = 2 WHERE id = 1"
        )
    assert mysql_code(exc) == 1213
    assert judged(exc) == NOT_NOW


@pytest.mark.parametrize(("sql", "code"), [("SELEC 1", 1064), ("SELECT * FROM pa_no_such_table", 1146)])
def test_mariadb_statement_errors_are_permanent(mysql, sql, code):
    exc = raised(mysql.cursor().execute, sql)
    assert mysql_code(exc) == code
    assert judged(exc) == PERMANENT


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (pymysql.OperationalError(1040, "Too many connections"), NOT_NOW),
        (pymysql.OperationalError(1053, "Server shutdown in progress"), NOT_NOW),
        (pymysql.OperationalError(1927, "Connection was killed"), NOT_NOW),
        (pymysql.OperationalError(2006, "MySQL server has gone away"), LOST),
    ],
    ids=["1040", "1053", "1927", "2006"],
)
def test_mariadb_codes_that_need_the_whole_server(exc, expected):
    """Built by hand: a full server (global max_connections), a shutdown and 2006 (a write to a dead socket; a read
    gets 2013, tested above) would disturb the shared MariaDB or cannot be timed reliably."""
    assert judged(exc) == expected


# DuckDB and SQLite files


def test_duckdb_file_locked_by_another_process_is_not_now(tmp_path):
    path = str(tmp_path / "locked.duckdb")
    hold = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        exc = raised(duckdb.connect, path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert isinstance(exc, duckdb.IOException)
    assert judged(exc) == NOT_NOW


def test_duckdb_missing_file_is_permanent(tmp_path):
    """The same IOException class as a lock conflict: only its text tells a missing file apart."""
    exc = raised(duckdb.connect, str(tmp_path / "missing.duckdb"), read_only=True)
    assert isinstance(exc, duckdb.IOException)
    assert judged(exc) == PERMANENT


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELEC 1", duckdb.ParserException),
        ("SELECT * FROM pa_no_such_table", duckdb.CatalogException),
        ("SELECT nope FROM (SELECT 1 AS a)", duckdb.BinderException),
        ("SELECT 'x'::INTEGER", duckdb.ConversionException),
        ("CREATE TABLE u (id INTEGER PRIMARY KEY); INSERT INTO u VALUES (1), (1)", duckdb.ConstraintException),
    ],
    ids=["parser", "catalog", "binder", "conversion", "constraint"],
)
def test_duckdb_statement_errors_are_permanent(sql, kind):
    with duckdb.connect() as conn:
        exc = raised(conn.execute, sql)
    assert isinstance(exc, kind)
    assert judged(exc) == PERMANENT


def test_sqlite_database_locked_by_a_writer_is_not_now(tmp_path):
    path = tmp_path / "source.sqlite"
    with closing(sqlite3.connect(path, isolation_level=None)) as writer:
        writer.execute("CREATE TABLE t (x)")
        writer.execute("BEGIN EXCLUSIVE")
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0)) as reader:
            exc = raised(reader.execute, "SELECT * FROM t")
            syntax = raised(reader.execute, "SELEC 1")
    assert exc.sqlite_errorname == "SQLITE_BUSY"
    assert judged(exc) == NOT_NOW
    assert judged(syntax) == PERMANENT


# S3: the SeaweedFS test server, and local servers answering as S3 does when it throttles or fails


def s3_client(endpoint: str, key: str = ACCESS_KEY, secret: str = SECRET_KEY, **config):
    """A client that tries once (botocore's own retries would only slow the test down)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 1}, **config),
    )


def s3_error_code(exc: BaseException) -> str:
    return exc.response["Error"]["Code"]


@pytest.mark.parametrize(
    ("client", "call", "code"),
    [
        (lambda s3: s3_client(s3.endpoint_url, secret="wrong"), "list", "SignatureDoesNotMatch"),
        (lambda s3: s3_client(s3.endpoint_url, key="pa-unknown-key"), "list", "InvalidAccessKeyId"),
        (lambda s3: s3_client(s3.endpoint_url), "missing bucket", "NoSuchBucket"),
        (lambda s3: s3_client(s3.endpoint_url), "missing key", "NoSuchKey"),
    ],
    ids=["wrong secret", "unknown key id", "missing bucket", "missing key"],
)
def test_s3_refusals_are_permanent(s3_server, s3_bucket, client, call, code):
    s3 = client(s3_server)
    if call == "list":
        exc = raised(s3.list_objects_v2, Bucket=s3_bucket)
    elif call == "missing bucket":
        exc = raised(s3.get_object, Bucket=f"pa-missing-{uuid.uuid4().hex[:8]}", Key="k")
    else:
        exc = raised(s3.get_object, Bucket=s3_bucket, Key="pa/missing.parquet")
    assert s3_error_code(exc) == code
    assert judged(exc) == PERMANENT


def test_s3_upload_with_a_wrong_secret_is_permanent(s3_server, s3_bucket, tmp_path):
    """boto3's S3UploadFailedError wraps the ClientError (SignatureDoesNotMatch); what it wraps decides."""
    spool = tmp_path / "part.parquet"
    spool.write_bytes(b"x" * 100)
    exc = raised(s3_client(s3_server.endpoint_url, secret="wrong").upload_file, str(spool), s3_bucket, "part.parquet")
    assert type(exc).__name__ == "S3UploadFailedError"
    assert s3_error_code(exc.__context__) == "SignatureDoesNotMatch"
    assert judged(exc) == PERMANENT


def test_s3_endpoint_nothing_listens_on_is_lost():
    """EndpointConnectionError: a stage whose server went away mid-run is retried, but it is one more try only; while
    connecting the same failure is a wrong endpoint."""
    exc = raised(s3_client(f"http://127.0.0.1:{free_port()}").list_objects_v2, Bucket="pa-bucket")
    assert type(exc).__name__ == "EndpointConnectionError"
    assert judged(exc) == LOST


def test_s3_endpoint_that_never_answers_is_lost():
    """A server that accepts the connection (the kernel does, for a socket that listens) and never answers."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        exc = raised(s3_client(endpoint, read_timeout=0.5).list_objects_v2, Bucket="pa-bucket")
    assert type(exc).__name__ == "ReadTimeoutError"
    assert judged(exc) == LOST


def test_s3_https_to_a_server_speaking_http_is_permanent():
    """botocore's SSLError, a kind of its ConnectionError: a TLS setup that fails stays failed."""
    with http_server(lambda handler: send(handler, 200)) as port:
        exc = raised(s3_client(f"https://127.0.0.1:{port}").list_objects_v2, Bucket="pa-bucket")
    assert type(exc).__name__ == "SSLError"
    assert judged(exc) == PERMANENT


@contextmanager
def http_server(respond: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[int]:
    """A local HTTP server whose every request ``respond`` answers (its body read into ``body``); yields its port."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self) -> None:
            self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            respond(self)

        do_GET = do_HEAD = do_PUT = do_POST = answer

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", length: int = 0, **headers: str) -> None:
    """Answer with ``body``, announced as ``length`` bytes long (by default its own length)."""
    handler.send_response(status)
    headers = {"Content-Length": str(length or len(body)), "ETag": '"0123"', **headers}
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def s3_error(status: int, code: str) -> Callable[[BaseHTTPRequestHandler], None]:
    body = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{code}</Message></Error>".encode()
    return lambda handler: send(handler, status, body)


@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (503, "ServiceUnavailable"), (500, "InternalError")])
def test_s3_throttled_or_failing_server_is_not_now(tmp_path, status, code):
    spool = tmp_path / "part.parquet"
    spool.write_bytes(b"x" * 100)
    with http_server(s3_error(status, code)) as port:
        s3 = s3_client(f"http://127.0.0.1:{port}")
        listing = raised(s3.list_objects_v2, Bucket="pa-bucket")
        upload = raised(s3.upload_file, str(spool), "pa-bucket", "part.parquet")
    assert s3_error_code(listing) == code
    assert judged(listing) == NOT_NOW
    assert type(upload).__name__ == "S3UploadFailedError"
    assert judged(upload) == NOT_NOW


def test_s3_download_cut_short_every_time_is_lost(tmp_path):
    """s3transfer retries a body cut short, then gives up with boto3's RetriesExceededError: what it wraps decides."""

    def cut_short(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, b"x" * 10, length=1000, Connection="close")  # no connection is kept for another request
        handler.close_connection = True

    with http_server(cut_short) as port:
        exc = raised(
            s3_client(f"http://127.0.0.1:{port}").download_file, "pa-bucket", "part.parquet", str(tmp_path / "p")
        )
    assert type(exc).__name__ == "RetriesExceededError"
    assert type(exc.last_exception).__name__ == "IncompleteReadError"
    assert judged(exc) == LOST


# Snowflake: fakesnow, and a proxy in front of it that answers as a failing Snowflake would


@contextmanager
def snowflake_proxy(server, answer: Callable[[BaseHTTPRequestHandler], bool]) -> Iterator[tuple[int, threading.Event]]:
    """A proxy to fakesnow; ``answer`` may answer a request itself (and return True), else it is passed on. The proxy
    itself answers the abort of a query that ran out of time (the connector's timer sends one, from a thread of its
    own, once network_timeout passes); the event it yields is set once it has."""
    aborted = threading.Event()

    def respond(handler: BaseHTTPRequestHandler) -> None:
        if "/queries/v1/abort-request" in handler.path:
            send(handler, 200, b'{"success": true, "data": null}', **{"Content-Type": "application/json"})
            aborted.set()
        elif not answer(handler):
            conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")}
            conn.request(handler.command, handler.path, body=handler.body, headers=headers)
            response = conn.getresponse()
            passed = {k: v for k, v in response.getheaders() if k.lower() in ("content-type", "content-encoding")}
            send(handler, response.status, response.read(), **passed)

    with http_server(respond) as port:
        yield port, aborted


def snowflake_session(port: int, **extra):
    return snowflake.connector.connect(
        user="fake", password="snow", account="fakesnow", host="127.0.0.1", port=port, protocol="http", **extra
    )


def queries_fail(status: int) -> Callable[[BaseHTTPRequestHandler], bool]:
    def answer(handler: BaseHTTPRequestHandler) -> bool:
        if "/queries/v1/query-request" in handler.path:
            send(handler, status)
            return True
        return False

    return answer


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (503, "ServiceUnavailableError"),
        (504, "GatewayTimeoutError"),
        (502, "BadGatewayError"),
        (500, "InternalServerError"),
        (429, "TooManyRequests"),
        (507, "OtherHTTPRetryableError"),
    ],
)
def test_snowflake_http_errors_it_retries_are_not_now(snowflake_server, status, kind):
    """The connector retries these for network_timeout, then raises the status's own class."""
    with (
        snowflake_proxy(snowflake_server, queries_fail(status)) as (port, aborted),
        closing(snowflake_session(port, network_timeout=1)) as conn,
    ):
        exc = raised(conn.cursor().execute, "SELECT 1")
        assert aborted.wait(10)
    assert type(exc).__name__ == kind
    assert judged(exc) == NOT_NOW


def test_snowflake_lost_mid_query_is_lost(snowflake_server):
    """The connection to the server dropped on every try: 250003, a request failed on the network."""

    def drop_queries(handler: BaseHTTPRequestHandler) -> bool:
        if "/queries/v1/query-request" in handler.path:
            handler.close_connection = True
            return True
        return False

    with (
        snowflake_proxy(snowflake_server, drop_queries) as (port, aborted),
        closing(snowflake_session(port, network_timeout=1)) as conn,
    ):
        exc = raised(conn.cursor().execute, "SELECT 1")
        assert aborted.wait(10)
    assert (type(exc).__name__, exc.errno) == ("OperationalError", 250003)
    assert judged(exc) == LOST


def test_snowflake_nothing_listening_is_permanent_when_connecting():
    exc = raised(snowflake_session, free_port(), login_timeout=1)
    assert (type(exc).__name__, exc.errno) == ("OperationalError", 250001)
    assert judged(exc) == LOST


def test_snowflake_wrong_password_is_permanent(snowflake_server):
    """fakesnow takes any password, so the proxy answers the login as Snowflake does (code 390100)."""
    body = b'{"success": false, "code": "390100", "data": null, "message": "Incorrect username or password."}'

    def refuse_login(handler: BaseHTTPRequestHandler) -> bool:
        if "/session/v1/login-request" in handler.path:
            send(handler, 200, body, **{"Content-Type": "application/json"})
            return True
        return False

    with snowflake_proxy(snowflake_server, refuse_login) as (port, _):
        exc = raised(snowflake_session, port)
    assert (type(exc).__name__, exc.errno) == ("DatabaseError", 390100)
    assert judged(exc) == PERMANENT


def test_snowflake_sql_error_is_permanent(snowflake_server):
    with closing(snowflake_session(snowflake_server.port)) as conn:
        exc = raised(conn.cursor().execute, "SELEC 1")
    assert (type(exc).__name__, exc.errno) == ("ProgrammingError", 1003)
    assert judged(exc) == PERMANENT


def test_snowflake_retry_request_is_not_now():
    """Built by hand: the connector's own "retry this" escapes only from a result chunk's download that failed on
    every try, and fakesnow serves no result chunks (it answers every result inline)."""
    assert judged(RetryRequest(ConnectionResetError())) == NOT_NOW


# SSH: a real sshd as the bastion


@pytest.fixture
def bastion(tmp_path):
    with sshd(tmp_path / "sshd") as server:
        yield server


def test_ssh_tunnel_with_a_key_the_bastion_refuses_is_permanent(bastion):
    stranger = paramiko.RSAKey.generate(2048)
    transport = paramiko.Transport(("127.0.0.1", bastion.port))
    try:
        transport.connect()
        refused = raised(transport.auth_publickey, bastion.user, stranger)
    finally:
        transport.close()
    assert isinstance(refused, paramiko.AuthenticationException)
    assert judged(refused) == PERMANENT
    forwarder = _Forwarder(
        ("127.0.0.1", bastion.port),
        ssh_username=bastion.user,
        ssh_pkey=stranger,
        ssh_config_file=None,
        remote_bind_address=(PG["host"], PG["port"]),
        local_bind_address=("127.0.0.1", 0),
    )
    exc = raised(forwarder.start)
    assert type(exc).__name__ == "BaseSSHTunnelForwarderError"  # "Could not establish session to SSH gateway"
    assert judged(exc) == PERMANENT


def test_ssh_to_a_server_that_is_not_ssh_is_permanent_when_connecting():
    """PostgreSQL's port sends no SSH banner: paramiko's SSHException, a transport that failed."""
    transport = paramiko.Transport((PG["host"], PG["port"]))
    transport.banner_timeout = 5
    try:
        exc = raised(transport.connect)
    finally:
        transport.close()
    assert type(exc) is paramiko.SSHException
    assert judged(exc) == LOST


def test_ssh_session_the_bastion_dropped_is_lost(bastion):
    key = paramiko.PKey.from_path(bastion.key_path, password=bastion.passphrase.encode())
    transport = paramiko.Transport(("127.0.0.1", bastion.port))
    try:
        transport.connect(username=bastion.user, pkey=key)
        transport.open_session().close()
        # the sshd processes that serve this session are the children of the one the fixture started
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(bastion.process.pid)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert children
        for pid in children:
            os.kill(int(pid), signal.SIGTERM)
        deadline = time.monotonic() + 10
        while transport.is_active() and time.monotonic() < deadline:
            time.sleep(0.05)
        exc = raised(transport.open_session)
    finally:
        transport.close()
    assert type(exc) is paramiko.SSHException  # "SSH session not active"
    assert judged(exc) == LOST


# Python's own network errors


def test_connection_refused_is_permanent_when_connecting():
    exc = raised(socket.create_connection, ("127.0.0.1", free_port()))
    assert isinstance(exc, ConnectionRefusedError)
    assert judged(exc) == LOST


def test_unknown_host_is_permanent_when_connecting():
    exc = raised(socket.getaddrinfo, "pa-no-such-host.invalid", 5432)
    assert isinstance(exc, socket.gaierror)
    assert judged(exc) == LOST


def test_connection_reset_and_timeout_mid_work_are_lost():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as silent:
            silent.settimeout(0.2)
            timeout = raised(silent.recv, 1)
        with socket.create_connection(server.getsockname()) as client:
            for _ in range(2):  # the first accepted is the silent one's
                accepted, _ = server.accept()
                accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                accepted.close()  # with a zero linger: a reset
            reset = raised(client.recv, 1)
    assert isinstance(timeout, TimeoutError)
    assert judged(timeout) == LOST
    assert isinstance(reset, ConnectionResetError)
    assert judged(reset) == LOST


# ours, and what nobody named


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (TransientError("stage: cannot read s3://b/k: the server went away"), NOT_NOW),
        (PipelineError("source 'crm': connection refused"), PERMANENT),  # its words do not matter
        (ValueError("connection timeout"), PERMANENT),
        (FileNotFoundError("stage.parquet"), PERMANENT),
    ],
    ids=["TransientError", "PipelineError", "unknown", "OSError"],
)
def test_ours_and_the_unknown(exc, expected):
    assert judged(exc) == expected


def test_the_module_imports_no_driver_and_no_dagster():
    code = "import sys, pipeline_assets.core.transience; print(' '.join(sys.modules))"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(child.stdout.split())
    forbidden = {
        "dagster",
        "psycopg2",
        "pymysql",
        "adbc_driver_manager",
        "duckdb",
        "_duckdb",
        "sqlite3",
        "botocore",
        "boto3",
        "snowflake.connector",
        "paramiko",
        "sshtunnel",
    }
    assert not loaded & forbidden
