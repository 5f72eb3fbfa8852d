"""Whether a failure may pass on a retry, judged by the driver's own exception class and error code.

Every failure gets one of three verdicts:

* NOT_NOW: the server or service answered, and its answer means "not now": a lock held by another session, a
  deadlock, a serialization failure, too many connections, a server shutting down or starting up, throttling, an
  HTTP 5xx. Transient in either phase.
* LOST: the network path failed and no server answered: refused, reset, closed, timed out, a name that does not
  resolve. Transient while *working* on a connection that was open (it dropped: a restart, a failover, a network
  blip), but permanent while *connecting*, where the same failure means a wrong host or port, a firewall, a server
  that is down; a retry seconds later fixes none of them, and a wrong port must fail at once.
* PERMANENT: everything else (a wrong password, an unknown database or table, bad SQL, bad data, a missing bucket),
  and every failure this module does not know: what cannot be named is never retried.

So the caller says which ``Phase`` it was in: only it knows whether it was opening a connection or using one.

The exception's class is found by walking ``type(exc).__mro__``, most specific first, and naming each class by its
top-level package and its name (``psycopg2.OperationalError``, ``duckdb.IOException``,
``botocore.EndpointConnectionError``): no driver is imported here, and classes that move between a package's modules
are still found. Text is read only where a driver offers no class or code, and a comment says so there.
"""

from collections.abc import Callable
from enum import Enum
from typing import Any


class Phase(Enum):
    """Where a failure happened, which only the caller knows."""

    CONNECT = "connect"  # opening a connection, a session or a tunnel: a driver's connect(), a login
    WORK = "work"  # using one that was open: a query, a commit, a COPY, an S3 request


class Verdict(Enum):
    """What a failure says about a retry (see the module docstring)."""

    NOT_NOW = "not now"
    LOST = "lost"
    PERMANENT = "permanent"


NOT_NOW, LOST, PERMANENT = Verdict.NOT_NOW, Verdict.LOST, Verdict.PERMANENT


def is_transient(exc: BaseException, phase: Phase) -> bool:
    """Whether ``exc``, raised in ``phase``, may pass on a retry."""
    found = verdict(exc)
    return found is NOT_NOW or (found is LOST and phase is Phase.WORK)


def verdict(exc: BaseException | None) -> Verdict:
    """``exc``'s verdict, from the rule of the most specific of its classes that has one (see the module docstring)."""
    for cls in type(exc).__mro__:
        rule = _RULES.get(f"{cls.__module__.partition('.')[0].lstrip('_')}.{cls.__name__}")
        if rule is not None:
            return rule if isinstance(rule, Verdict) else rule(exc)
    return PERMANENT


_PG_NOT_NOW = ("40001", "40P01", "53", "55P03", "57P01", "57P02", "57P03", "57P05")


def _sqlstate(code: str | None) -> Verdict:
    """PostgreSQL's SQLSTATE: class 08 connection exception; 40001 serialization_failure, 40P01 deadlock_detected,
    class 53 insufficient resources (53300 too_many_connections), 55P03 lock_not_available, 57P01 admin_shutdown,
    57P02 crash_shutdown, 57P03 cannot_connect_now, 57P05 idle_session_timeout. Everything else recurs: class 28
    authorization, 3D000 unknown database, class 42 syntax and undefined objects, classes 22 data and 23 integrity,
    57014 a statement timeout or cancel."""
    if not code:
        return PERMANENT
    if code.startswith("08"):
        return LOST
    return NOT_NOW if code.startswith(_PG_NOT_NOW) else PERMANENT


# libpq reports a connection it could not open, or lost, as text alone: no SQLSTATE, not even when the server sent one
# while refusing the connection. So those refusals that mean "not now" are told by the server's (English) messages:
# 53300 too_many_connections, and 57P03 cannot_connect_now ("the database system is starting up", "... shutting down",
# "... in recovery mode"). A server set to another language is not recognised, and its refusal counts as LOST.
_LIBPQ_NOT_NOW = ("too many clients", "too many connections", "slots are reserved", "the database system is ")


def _libpq(exc: Any, code: str | None) -> Verdict:
    """A PostgreSQL server's SQLSTATE if it sent one, else libpq's own report of a failed or lost connection."""
    if code:
        return _sqlstate(code)
    return NOT_NOW if any(message in str(exc) for message in _LIBPQ_NOT_NOW) else LOST


# PyMySQL's error numbers (args[0]). The client's own, for a connection it could not open or lost: 2003 can't connect,
# 2006 server has gone away, 2013 lost connection during a query. The server's "not now": 1040 too many connections,
# 1053 server shutdown in progress, 1205 lock wait timeout, 1213 deadlock, 1226 a user's max_user_connections reached,
# 1927 connection killed (MariaDB). Everything else recurs: 1045 access denied, 1049 unknown database, 1064 syntax,
# 1146 no such table, ...
_MYSQL_LOST = {2003, 2006, 2013}
_MYSQL_NOT_NOW = {1040, 1053, 1205, 1213, 1226, 1927}


def _mysql(exc: Any) -> Verdict:
    code = exc.args[0] if exc.args else None
    return LOST if code in _MYSQL_LOST else NOT_NOW if code in _MYSQL_NOT_NOW else PERMANENT


# snowflake-connector-python retries HTTP 429 and 5xx itself, then raises the status's own class (below as NOT_NOW;
# OtherHTTPRetryableError for a 5xx without one).
# Its OperationalError with errno 250001 (cannot connect), 250002 (connection closed), 250003 (a request failed on
# the network) or 251011 (a login timed out) is a network failure. Its other errors recur: 390100 a wrong user or
# password, 390144 a bad key pair, the server's SQL errors.
_SNOWFLAKE_LOST = {250001, 250002, 250003, 251011}

# The S3 (and STS) codes among those botocore's own retries treat as throttling or transient
# (botocore/retries/standard.py), which also retry HTTP 500 (InternalError), 502, 503 and 504: one that reaches us has
# lasted through those retries, but it still means "not now". Every other code recurs: AccessDenied,
# InvalidAccessKeyId, SignatureDoesNotMatch, NoSuchBucket, NoSuchKey, and RequestTimeTooSkewed (a clock that is off
# stays off until someone sets it).
_AWS_NOT_NOW = {"SlowDown", "ServiceUnavailable", "RequestTimeout", "Throttling", "ThrottlingException"}


def _client_error(exc: Any) -> Verdict:
    code = exc.response.get("Error", {}).get("Code")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return NOT_NOW if code in _AWS_NOT_NOW or status in (500, 502, 503, 504) else PERMANENT


def _adbc(exc: Any) -> Verdict:
    # status IO without a SQLSTATE is libpq's failed or lost connection; any other status without one is ADBC's own
    return _libpq(exc, exc.sqlstate) if exc.status_code.name == "IO" else _sqlstate(exc.sqlstate)


def _sqlite(exc: Any) -> Verdict:
    # SQLITE_BUSY and SQLITE_LOCKED (and their extended codes): another connection is writing
    busy = getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    return NOT_NOW if busy else PERMANENT


def _duckdb_io(exc: Any) -> Verdict:
    # DuckDB raises one IOException, with no code, both for a file another process holds locked (it will let go) and
    # for a file that is missing or unreadable: only its text tells them apart.
    return NOT_NOW if "Could not set lock" in str(exc) else PERMANENT


_RULES: dict[str, Verdict | Callable[[Any], Verdict]] = {
    # our own: judged where it was raised (the DuckDB warehouse's lock wait, a stage failure inside a load)
    "pipeline_assets.TransientError": NOT_NOW,
    # PostgreSQL and Redshift through psycopg2: the server's SQLSTATE in pgcode; an OperationalError or InterfaceError
    # ("connection already closed") without one is libpq's; any other without one is psycopg2's own, and recurs
    "psycopg2.OperationalError": lambda exc: _libpq(exc, exc.pgcode),
    "psycopg2.InterfaceError": lambda exc: _libpq(exc, exc.pgcode),
    "psycopg2.Error": lambda exc: _sqlstate(exc.pgcode),
    # PostgreSQL through ADBC: the server's SQLSTATE in sqlstate
    "adbc_driver_manager.Error": _adbc,
    # MySQL and MariaDB through PyMySQL, whose InterfaceError is only ever "not connected" (0, ""): a lost connection
    "pymysql.InterfaceError": LOST,
    "pymysql.MySQLError": _mysql,
    "duckdb.IOException": _duckdb_io,
    "sqlite3.Error": _sqlite,
    "snowflake.ServiceUnavailableError": NOT_NOW,
    "snowflake.GatewayTimeoutError": NOT_NOW,
    "snowflake.BadGatewayError": NOT_NOW,
    "snowflake.InternalServerError": NOT_NOW,
    "snowflake.TooManyRequests": NOT_NOW,
    "snowflake.OtherHTTPRetryableError": NOT_NOW,
    "snowflake.RetryRequest": NOT_NOW,  # the connector's own "retry this", leaking from a result chunk's download
    "snowflake.OperationalError": lambda exc: LOST if exc.errno in _SNOWFLAKE_LOST else PERMANENT,
    "botocore.ClientError": _client_error,
    "botocore.SSLError": PERMANENT,  # a certificate that does not verify, under ConnectionError below
    "botocore.ConnectionError": LOST,  # EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError
    "botocore.HTTPClientError": LOST,  # ReadTimeoutError, ConnectionClosedError, ResponseStreamingError
    "botocore.IncompleteReadError": LOST,  # a response body cut short
    # boto3's transfer wrappers: what they wrap decides
    "boto3.S3UploadFailedError": lambda exc: verdict(exc.__context__),  # raised while handling the ClientError
    "boto3.RetriesExceededError": lambda exc: verdict(exc.last_exception),
    # SSH: a key the bastion refuses stays refused; paramiko's other SSHExceptions are a transport that failed or
    # closed. sshtunnel's BaseSSHTunnelForwarderError is not listed, so permanent: start() raises it, only ever while
    # connecting, for a wrong key and a dead host alike (its log names the cause)
    "paramiko.AuthenticationException": PERMANENT,
    "paramiko.SSHException": LOST,
    # the network as Python reports it: ConnectionRefusedError, ConnectionResetError, BrokenPipeError, ...
    "builtins.ConnectionError": LOST,
    "builtins.TimeoutError": LOST,
    "socket.gaierror": LOST,
}
