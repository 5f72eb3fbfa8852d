"""The one part of Redshift emulated here: ``COPY … FROM '<manifest>' IAM_ROLE … MANIFEST``. No Redshift emulator
exists, so the ``RedshiftWarehouse`` runs against the local PostgreSQL for everything else (DDL, ledger, merge,
transactions, locks) and only its COPY is performed by this test code:

* the statement is parsed with sqlglot (``read="redshift"``) and must be an ``exp.Copy`` FROM one S3 URI with the
  configured IAM_ROLE, FORMAT PARQUET (or CSV) and MANIFEST;
* the manifest is read from the S3 server and must list only mandatory entries whose ``content_length`` is the
  object's real size;
* those files are read from S3 and copied by position into the table on the load's own connection (so the rows
  belong to the load's transaction, as Redshift's COPY does), and ``pg_last_copy_count()`` answers their count
  (``EmulatedRedshift.run_copy`` stands in for ``RedshiftWarehouse.run_copy``);
* with ``fail_on`` set, a file whose URL contains it fails the COPY the way Redshift does: a row in
  ``stl_load_errors`` (a table in a test schema on the session's search path) and an error on the connection.
"""

import io
import json
import uuid
from dataclasses import dataclass, field

import psycopg2
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from pipeline_assets.warehouses.redshift import RedshiftTransaction, RedshiftWarehouse
from pipeline_assets_tests.conftest import PG

ROLE = "arn:aws:iam::123456789012:role/redshift-copy"
_FLAGS = {"MANIFEST", "EMPTYASNULL"}  # sqlglot reads a flag followed by another flag as a parameter with a value


def redshift_connection(**extra) -> dict:
    """A ``kind: redshift`` connection to the local PostgreSQL (``extra``: more ``redshift:`` options)."""
    return {
        "kind": "redshift",
        "host": PG["host"],
        "port": PG["port"],
        "user": PG["user"],
        "database": PG["dbname"],
        "redshift": {"iam_role": ROLE, "sslmode": "disable", **extra},
    }


def query(pg, sql: str, params=()) -> list[tuple]:
    with pg.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def execute(pg, sql: str) -> None:
    with pg.cursor() as cur:
        cur.execute(sql)


@dataclass
class Emulation:
    """What the emulated COPYs saw (for the test's assertions) and which file should fail."""

    s3: object
    system_schema: str
    copies: list[dict] = field(default_factory=list)
    fail_on: str | None = None


class EmulatedRedshift(RedshiftWarehouse):
    """The Redshift warehouse on PostgreSQL, its sessions seeing the emulated system table and function, its COPY
    performed here."""

    emulation: Emulation

    def connection_args(self, host: str, port: int) -> dict:
        schema = self.emulation.system_schema
        return {**super().connection_args(host, port), "options": f"-c search_path={schema},public"}

    def run_copy(self, tx: RedshiftTransaction, sql: str) -> int:
        node = sqlglot.parse_one(sql, read="redshift")
        assert isinstance(node, exp.Copy) and node.args["kind"] is True, sql
        assert node.args["credentials"].args["iam_role"].name == ROLE, sql
        options = _options(node)
        assert "MANIFEST" in options and options.get("FORMAT") in ("PARQUET", "CSV"), sql
        (source,) = node.args["files"]
        entries = json.loads(self._get(source.name))["entries"]
        for entry in entries:
            assert entry["mandatory"] is True
            assert entry["meta"]["content_length"] == self._size(entry["url"]), entry
        self.emulation.copies.append({"sql": sql, "manifest": source.name, "urls": [e["url"] for e in entries]})
        table = node.this.sql(dialect="postgres")
        rows = 0
        for entry in entries:
            if self.emulation.fail_on and self.emulation.fail_on in entry["url"]:
                self._fail(tx, entry["url"], node.this.name)
            rows += self._ingest(tx, table, entry["url"], options["FORMAT"])
        tx.execute("SELECT set_config('pa_test.last_copy_count', %s, true)", [str(rows)])
        return tx.execute("SELECT pg_last_copy_count()")[0][0]

    def _ingest(self, tx: RedshiftTransaction, table: str, url: str, file_format: str) -> int:
        data = self._get(url)
        if file_format == "CSV":
            text = data
        else:  # Redshift fills Parquet columns by position: so does COPY without a column list
            buffer = io.BytesIO()
            pacsv.write_csv(pq.read_table(io.BytesIO(data)), buffer)
            text = buffer.getvalue()
        tx.cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)", io.BytesIO(text))
        return tx.cursor.rowcount

    def _fail(self, tx: RedshiftTransaction, url: str, table: str) -> None:
        session = tx.session()
        with psycopg2.connect(**PG) as side, side.cursor() as cur:
            cur.execute(
                f'INSERT INTO "{self.emulation.system_schema}".stl_load_errors VALUES (%s, 1, %s, %s, %s, %s, %s)',
                (session, uuid.uuid4().int % 10**6, url, 7, "amount", "Invalid digit, Value 'x', Pos 0, Type: Decimal"),
            )
        tx.execute(
            f"DO $$ BEGIN RAISE EXCEPTION 'Load into table ''{table}'' failed.  Check ''stl_load_errors'' "
            "system table for details.'; END $$"
        )

    def _get(self, url: str) -> bytes:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        return self.emulation.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def _size(self, url: str) -> int:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        return self.emulation.s3.head_object(Bucket=bucket, Key=key)["ContentLength"]


def install(pg, emulation: Emulation) -> None:
    """Create the emulated system objects in ``emulation.system_schema`` and route COPYs through ``emulation``."""
    with pg.cursor() as cur:
        cur.execute(f'''CREATE SCHEMA "{emulation.system_schema}";
            CREATE TABLE "{emulation.system_schema}".stl_load_errors (session int, slice int, query int, filename text,
                line_number bigint, colname text, err_reason text, starttime timestamp DEFAULT now());
            CREATE FUNCTION "{emulation.system_schema}".pg_last_copy_count() RETURNS bigint LANGUAGE sql
                AS $$ SELECT current_setting('pa_test.last_copy_count')::bigint $$''')
    EmulatedRedshift.emulation = emulation


def _options(node: exp.Copy) -> dict[str, str | None]:
    options = {}
    for param in node.args.get("params", []):
        value = param.expression
        options[param.this.name.upper()] = value.name.upper() if isinstance(value, exp.Var) else value and value.name
        if isinstance(value, exp.Var) and value.name.upper() in _FLAGS:
            options[value.name.upper()] = None
    return options
