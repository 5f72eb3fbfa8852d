"""Snowflake's transaction rules, enforced on fakesnow's server where DuckDB would be kinder.

DuckDB's DDL is transactional; Snowflake's is not: "a DDL statement … implicitly commits the active transaction"
and runs as its own transaction (docs.snowflake.com, SQL reference, Transactions, DDL). fakesnow 0.12.1 applies
that rule only to sessions opened with AUTOCOMMIT off; the connector opens them with it on and sends ``BEGIN``,
so here every DDL statement (CREATE, ALTER, DROP, COMMENT: Snowflake counts TRUNCATE as DML) commits the session's
open transaction before it runs and is committed after.

Snowflake's ``ALTER TABLE a SWAP WITH b`` (DDL too) is run as three renames in one DuckDB transaction.

Snowflake's UPDATE, DELETE and MERGE hold the table's lock until their transaction ends, and another session's
UPDATE, DELETE or MERGE of that table waits for it (SQL reference, Transactions, Resource locking); DuckDB would run
both at once and fail one on a conflict or not at all. Here they wait, as on Snowflake, for ``LOCK_WAIT`` seconds.

The seam is ``FakeSnowflakeCursor.execute`` as the server calls it (``server=True``): every statement a client
sends passes through it, in the session (``FakeSnowflakeConnection``) it belongs to."""

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import snowflake.connector.errors
from fakesnow.conn import FakeSnowflakeConnection
from fakesnow.cursor import FakeSnowflakeCursor
from sqlglot import exp, parse_one
from sqlglot.errors import ParseError

LOCK_WAIT = 20.0  # seconds a locked table is waited for (Snowflake's LOCK_TIMEOUT is 12 hours)
_DDL = (exp.Create, exp.Alter, exp.Drop, exp.Comment)
_LOCKING_DML = (exp.Update, exp.Delete, exp.Merge)


class TableLocks:
    """The table locks of every session: a table is held by one session until its transaction ends."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holders: dict[str, int] = {}
        self.waited: list[str] = []  # the tables a statement waited for another session's lock on (for the tests)

    def acquire(self, table: str, session: int) -> None:
        with self._changed:
            if self._holders.get(table, session) != session:
                self.waited.append(table)
            if not self._changed.wait_for(lambda: self._holders.get(table, session) == session, LOCK_WAIT):
                raise snowflake.connector.errors.ProgrammingError(
                    msg=f"Statement waited {LOCK_WAIT:g} s for the lock on table {table} and was aborted",
                    errno=625,
                    sqlstate="57014",
                )
            self._holders[table] = session

    def release(self, session: int) -> None:
        with self._changed:
            for table in [t for t, s in self._holders.items() if s == session]:
                del self._holders[table]
            self._changed.notify_all()


class SnowflakeRules:
    """Wraps fakesnow's cursor so the statements clients send follow Snowflake's transaction rules."""

    def __init__(self) -> None:
        self.locks = TableLocks()
        self._explicit: set[int] = set()  # sessions inside a BEGIN … COMMIT

    @contextmanager
    def installed(self) -> Iterator["SnowflakeRules"]:
        """Patch ``FakeSnowflakeCursor.execute`` for the server's statements while the block runs."""
        original = FakeSnowflakeCursor.execute
        rules = self

        def execute(cursor: FakeSnowflakeCursor, command: str, *args: Any, **kwargs: Any) -> FakeSnowflakeCursor:
            if not kwargs.get("server"):
                return original(cursor, command, *args, **kwargs)
            return rules.execute(cursor, lambda sql: original(cursor, sql, *args, **kwargs), command)

        FakeSnowflakeCursor.execute = execute  # type: ignore[method-assign]
        try:
            yield self
        finally:
            FakeSnowflakeCursor.execute = original  # type: ignore[method-assign]

    def execute(
        self, cursor: FakeSnowflakeCursor, run: Callable[[str], FakeSnowflakeCursor], command: str
    ) -> FakeSnowflakeCursor:
        """Run ``command`` in ``cursor``'s session as Snowflake would."""
        conn: FakeSnowflakeConnection = cursor._conn
        session = id(conn)
        try:
            statement = parse_one(command, read="snowflake")
        except ParseError:
            return run(command)  # fakesnow reports it as Snowflake would
        if isinstance(statement, _DDL):
            self._end_transaction(conn)
            swap = statement.find(exp.SwapTable) if isinstance(statement, exp.Alter) else None
            result = self._swap(run, statement.this, swap.this) if swap else run(command)
            self._end_transaction(conn)
            return result
        if isinstance(statement, exp.Transaction):
            self._explicit.add(session)
            return run(command)
        if isinstance(statement, (exp.Commit, exp.Rollback)):
            try:
                return run(command)
            finally:
                self._explicit.discard(session)
                self.locks.release(session)
        if isinstance(statement, _LOCKING_DML):
            self.locks.acquire(_table_key(statement, conn), session)
            try:
                return run(command)
            finally:
                if session not in self._explicit:  # autocommitted: its lock ends with it
                    self.locks.release(session)
        if isinstance(statement, exp.Copy):
            return self._copy(run, command)
        return run(command)

    @staticmethod
    def _copy(run: Callable[[str], FakeSnowflakeCursor], command: str) -> FakeSnowflakeCursor:
        """A COPY whose file DuckDB cannot read fails as a statement on Snowflake (ON_ERROR = ABORT_STATEMENT),
        not as fakesnow's HTTP 500, which the connector retries for minutes. The error code is the stand-in's."""
        try:
            return run(command)
        except duckdb.InvalidInputException as exc:
            raise snowflake.connector.errors.ProgrammingError(
                msg=f"COPY could not read a file in its file format: {exc}", errno=100000, sqlstate="22000"
            ) from None

    def _end_transaction(self, conn: FakeSnowflakeConnection) -> None:
        """Commit the session's open transaction, as a DDL statement does on Snowflake."""
        conn._duck_conn.commit()  # a no-op outside a transaction
        conn._in_transaction = False
        self._explicit.discard(id(conn))
        self.locks.release(id(conn))

    @staticmethod
    def _swap(run: Callable[[str], FakeSnowflakeCursor], a: exp.Table, b: exp.Table) -> FakeSnowflakeCursor:
        """``ALTER TABLE a SWAP WITH b`` as three renames in one transaction (atomic: neither name is ever free)."""
        aside = exp.Table(this=exp.to_identifier(f"swap_{uuid.uuid4().hex[:12]}", quoted=True), db=a.args.get("db"))
        run("BEGIN TRANSACTION")
        try:
            for source, name in ((a, aside), (b, a), (aside, b)):
                run(f"ALTER TABLE {source.sql('snowflake')} RENAME TO {name.sql('snowflake')}")
        except BaseException:
            run("ROLLBACK")
            raise
        return run("COMMIT")


def _table_key(statement: exp.Expr, conn: FakeSnowflakeConnection) -> str:
    """The table a DML statement writes, as ``SCHEMA.NAME`` in the case Snowflake resolves it to."""
    table = statement.this if isinstance(statement.this, exp.Table) else statement.find(exp.Table)
    assert isinstance(table, exp.Table), statement
    parts = [table.args.get("db"), table.this]
    names = [p.name if p.quoted else p.name.upper() for p in parts if isinstance(p, exp.Identifier)]
    return ".".join(names if len(names) == 2 else [conn.schema or "PUBLIC", *names])
