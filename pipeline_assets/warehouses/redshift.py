"""Amazon Redshift as a warehouse: the staged files COPYed from S3 through a manifest, in the load's transaction.

psycopg2 speaks Redshift's PostgreSQL 8 protocol. Its connections do not autocommit, so the COPY runs inside the
load's BEGIN … COMMIT: were it run on its own, a client that disconnects would leave it running to completion.
"""

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pyarrow as pa

from pipeline_assets.config import RedshiftConnection
from pipeline_assets.core import layout
from pipeline_assets.core.errors import PipelineError, driver_error, first_line, redact
from pipeline_assets.core.target import TargetTable
from pipeline_assets.core.transience import Phase
from pipeline_assets.warehouses.base import Warehouse
from pipeline_assets.warehouses.contract import Capabilities, CopyJob
from pipeline_assets.warehouses.ledger import SCHEMA, TABLE, Ledger
from pipeline_assets.warehouses.redshift_copy import (
    LOAD_ERROR_SQL,
    check_column_order,
    copy_manifest,
    copy_statement,
    describe_load_error,
)
from pipeline_assets.warehouses.transaction import FileOutcome, Transaction
from pipeline_assets.warehouses.tunnel import endpoint
from pipeline_assets.warehouses.types import sql_type

VARCHAR_MAX = "varchar(65535)"  # Redshift's TEXT is varchar(256); lengths count bytes, 65535 is the most
VARBYTE_MAX = "varbyte(1024000)"
# The ledger's and the watermarks' own tables declare TEXT, which Redshift reads as varchar(256): too short for
# URIs and error messages, so their DDL is given the longest VARCHAR instead.
_BOOKKEEPING_DDL = tuple(
    f'CREATE TABLE IF NOT EXISTS "{SCHEMA}"."{name}" (' for name in (TABLE, "watermarks", "watermark_history")
)
_TEXT = re.compile(r"(?<= )TEXT(?=[ ,)])")


def bookkeeping_ddl(sql: str) -> str:
    """``sql`` with TEXT spelled varchar(65535) if it creates one of the ledger's or the watermarks' tables."""
    return _TEXT.sub(VARCHAR_MAX.upper(), sql) if sql.startswith(_BOOKKEEPING_DDL) else sql


class RedshiftTransaction(Transaction):
    placeholder = "%s"

    def __init__(self, conn: psycopg2.extensions.connection):
        self.conn = conn
        self.cursor = conn.cursor()

    def execute(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        self.cursor.execute(bookkeeping_ddl(sql), params or None)
        return self.cursor.fetchall() if self.cursor.description else []

    def execute_count(self, sql: str, params: list | tuple = ()) -> int:
        self.cursor.execute(sql, params or None)
        return self.cursor.rowcount

    def session(self) -> int:
        """This connection's session id (``stl_load_errors.session``)."""
        return self.execute("SELECT pg_backend_pid()")[0][0]


class RedshiftWarehouse(Warehouse[RedshiftTransaction]):
    """Creates tables from the staged schema and loads them with ``COPY … FROM '<manifest>' IAM_ROLE … MANIFEST``."""

    config: RedshiftConnection
    # quoted names are folded to lower case unless enable_case_sensitive_identifier is on: "Customer" is customer
    caseless_names = True
    capabilities = Capabilities(
        savepoints=False,
        server_side_copy=True,
        transactional_ddl=True,
        row_level_errors=False,
        lock="before_ddl",
        widening=(("smallint", "integer", "bigint"), ("real", "double precision")),
    )

    def connection_args(self, host: str, port: int) -> dict:
        options = self.config.redshift
        return {
            "host": host,
            "port": port,
            "user": self.config.user,
            "password": self._password,
            "dbname": self.config.database,
            "connect_timeout": self.config.connect_timeout,
            "sslmode": options.sslmode,
            "application_name": "pipeline_assets",
        }

    @contextmanager
    def transaction(self) -> Iterator[RedshiftTransaction]:
        with endpoint(self.config) as (host, port):
            try:
                conn = psycopg2.connect(**self.connection_args(host, port))
            except psycopg2.Error as exc:
                raise self.connect_failed(exc) from None
            tx = RedshiftTransaction(conn)
            try:
                yield tx
                conn.commit()
            except BaseException:
                _rollback(conn)
                raise
            finally:
                conn.close()

    def column_type(self, field: pa.Field) -> str:
        return redshift_type(field.type)

    def count_distinct(self, columns: list[str]) -> str:
        """Redshift has no row constructors: several columns are counted as one text per row, each value written
        as its length, a colon and its text (a NULL as N), so two different rows never give the same text."""
        if len(columns) == 1:
            return super().count_distinct(columns)
        parts = [
            f"coalesce(CAST(length(CAST({c} AS {VARCHAR_MAX})) AS VARCHAR) || ':' || CAST({c} AS {VARCHAR_MAX}), 'N')"
            for c in columns
        ]
        return f"count(DISTINCT {' || '.join(parts)})"

    def hold_lock(self, tx: RedshiftTransaction, target: TargetTable) -> None:
        # Redshift has no advisory locks: lock the target (or, before it exists, the ledger) until the commit
        if self.table_exists(tx, target):
            tx.execute(f"LOCK TABLE {self.qualified(target)}")
        else:
            Ledger(tx).ensure()
            tx.execute(f'LOCK TABLE "{SCHEMA}"."{TABLE}"')

    def describe(self, tx: RedshiftTransaction, target: TargetTable) -> list[tuple[str, str]]:
        sql = (
            "SELECT column_name, CASE WHEN data_type = 'character varying' "
            "THEN 'varchar(' || CAST(character_maximum_length AS VARCHAR) || ')' "
            "WHEN data_type = 'numeric' THEN 'numeric(' || CAST(numeric_precision AS VARCHAR) || ','"
            " || CAST(numeric_scale AS VARCHAR) || ')' ELSE data_type END FROM information_schema.columns"
            f" WHERE {self.catalog_match('%s')} ORDER BY ordinal_position"
        )
        return tx.execute(sql, [target.schema, target.name])

    def canonical_type(self, spelling: str) -> str:
        spelling = spelling.lower()
        return _ALIASES.get(spelling, spelling)

    def alter_type_sql(self, target: TargetTable, field: pa.Field) -> str:
        raise PipelineError(
            f"{target}.{field.name}: the source widened it to {self.column_type(field)}, but Redshift changes"
            " a column's type in place only for VARCHAR lengths; run a full refresh to rebuild the table"
        )

    def copy_from_stage(self, tx: RedshiftTransaction, job: CopyJob) -> list[FileOutcome]:
        """One COPY over a manifest that lists exactly the job's files (never a prefix, which would pick up strays),
        written beside them in the stage; the server's row count must equal the files'."""
        target, manifest, store, files = job.table, job.manifest, job.store, list(job.files)
        check_column_order(target, [name for name, _ in self.describe(tx, target)], manifest.arrow_schema)
        key = layout.copy_manifest_key(files[0].key.rsplit("/", 1)[0], uuid.uuid4().hex[:12])
        store.write_bytes(key, copy_manifest(files))
        sql = copy_statement(self.qualified(target), store.uri(key), self.config.redshift.iam_role, manifest.format)
        session = tx.session()
        try:
            loaded = self.run_copy(tx, sql)
        except psycopg2.Error as exc:
            message = redact(first_line(exc), [self._password])
            raise driver_error(
                describe_load_error(target, self._load_error(session), message), exc, Phase.WORK
            ) from None
        expected = sum(f.rows for f in files)
        if loaded != expected:
            raise PipelineError(
                f"{target}: COPY loaded {loaded} rows but the staged files hold {expected}; rolled back"
            )
        if job.progress:
            job.progress.advance(loaded)
        return [FileOutcome(f, "loaded", f.rows) for f in files]

    def run_copy(self, tx: RedshiftTransaction, sql: str) -> int:
        """Run one ``COPY … FROM 's3://…'``; return the rows it loaded, as the server counted them."""
        tx.cursor.execute(sql)
        return tx.execute("SELECT pg_last_copy_count()")[0][0]

    def _load_error(self, session: int) -> tuple | None:
        """The failed COPY's STL_LOAD_ERRORS row, read on a second connection (the load's transaction is aborted)."""
        try:
            with self.transaction() as tx:
                rows = tx.execute(LOAD_ERROR_SQL, [session])
        except (psycopg2.Error, PipelineError):
            return None
        return rows[0] if rows else None


def _rollback(conn: psycopg2.extensions.connection) -> None:
    """Roll back, unless the connection is gone (then the server has rolled back already)."""
    try:
        conn.rollback()
    except psycopg2.Error:
        pass


_ALIASES = {
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "binary varying": VARBYTE_MAX,
}


def redshift_type(kind: pa.DataType) -> str:
    """Redshift's type for an Arrow type. JSON stays text (``JSON_PARSE`` makes it SUPER in a query): a Parquet
    string COPYed into a SUPER column would hold one string scalar, not the document."""
    spelling = sql_type(kind, "postgres")
    return {"text": VARCHAR_MAX, "jsonb": VARCHAR_MAX, "bytea": VARBYTE_MAX}.get(spelling, spelling)
