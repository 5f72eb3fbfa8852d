"""The Redshift stand-in: the real ``RedshiftWarehouse`` on the local PostgreSQL, every statement it sends judged
against what Redshift refuses, its COPY performed here. No Redshift emulator exists, so:

* every statement goes through a cursor that first asks ``redshift_judge.judge`` whether Redshift would take it
  (constructs PostgreSQL accepts and Redshift does not fail the test, naming the construct and the statement);
* ``COPY … FROM 's3://…'`` (``EmulatedRedshift.run_copy`` stands in for ``RedshiftWarehouse.run_copy``) does what
  the statement says and refuses the rest: the configured IAM_ROLE; with MANIFEST the manifest's entries, each
  ``mandatory`` entry's object present and its ``meta.content_length`` its real size, without it every object under
  the prefix (the manifest too, as Redshift would); FORMAT AS PARQUET loads by column position, refusing a column
  count or type family Redshift would; CSV (Redshift's default text format is pipe-delimited, so FORMAT AS CSV is
  needed) honours IGNOREHEADER, DELIMITER, NULL AS, EMPTYASNULL, DATEFORMAT and TIMEFORMAT (without them dates must
  be YYYY-MM-DD and timestamps YYYY-MM-DD HH:MI:SS, Redshift's defaults); any other option raises;
* a bad CSV field fails the COPY as Redshift does: a row in ``stl_load_errors`` with its documented columns (a
  table in a test schema on the session's search path, written on a side connection as STL tables are not
  transactional) and an error on the load's connection;
* the rows go into the table on the load's own connection (so they belong to the load's transaction) and
  ``pg_last_copy_count()`` answers how many PostgreSQL inserted;
* with ``fail_on`` set, a file whose URL contains it fails the COPY with an injected bad value (line 7, column
  amount) through the same path.
"""

import csv
import io
import json
import re
import uuid
from dataclasses import astuple, dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

import psycopg2
import psycopg2.extensions
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from pipeline_assets.warehouses.redshift import RedshiftTransaction, RedshiftWarehouse
from pipeline_assets_tests.conftest import PG
from pipeline_assets_tests.redshift_judge import judge

ROLE = "arn:aws:iam::123456789012:role/redshift-copy"
# flags take no value: sqlglot reads a flag followed by another flag as a parameter with that flag as its value
_FLAGS = {"MANIFEST", "EMPTYASNULL"}
_VALUED = {"FORMAT", "IGNOREHEADER", "DELIMITER", "NULL", "DATEFORMAT", "TIMEFORMAT"}
# r_DATEFORMAT_and_TIMEFORMAT_strings.html: without DATEFORMAT/TIMEFORMAT dates are YYYY-MM-DD, timestamps
# YYYY-MM-DD HH:MI:SS and TIMESTAMPTZ values YYYY-MM-DD HH:MI:SSOF; SS takes fractions down to microseconds
_DEFAULT_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DEFAULT_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?")
_DEFAULT_TIMETZ = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{1,2}(:\d{2})?")
_INTEGERS = {"smallint", "integer", "bigint"}
_PARQUET_FAMILIES = {  # Redshift's Parquet COPY: which column types take which Parquet types
    "int": _INTEGERS | {"numeric", "real", "double precision"},
    "float": {"real", "double precision"},
    "decimal": {"numeric", "real", "double precision"},
    "string": {"character varying", "character", "text"},
    "bool": {"boolean"},
    "date": {"date"},
    "timestamp": {"timestamp without time zone", "timestamp with time zone"},
    "time": {"time without time zone"},
    "binary": {"bytea"},
}


class CopyRefused(AssertionError):
    """A COPY the emulator does not implement: it fails the test rather than loading something else."""


class JudgingCursor(psycopg2.extensions.cursor):
    """A cursor that lets through only the statements Redshift would accept (``redshift_judge``)."""

    def execute(self, query, vars=None):
        """Judge the statement as sent (parameters bound), then run it on PostgreSQL."""
        judge(self.mogrify(query, vars).decode())
        return super().execute(query, vars)


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


@dataclass(frozen=True)
class LoadError:
    """One ``stl_load_errors`` row's facts (r_STL_LOAD_ERRORS.html)."""

    line_number: int
    colname: str
    type: str
    raw_line: str
    raw_field_value: str
    err_code: int
    err_reason: str


class EmulatedRedshift(RedshiftWarehouse):
    """The Redshift warehouse on PostgreSQL, its sessions seeing the emulated system table and function, its
    statements judged, its COPY performed here."""

    emulation: Emulation

    def connection_args(self, host: str, port: int) -> dict:
        schema = self.emulation.system_schema
        return {
            **super().connection_args(host, port),
            "options": f"-c search_path={schema},public",
            "cursor_factory": JudgingCursor,
        }

    def run_copy(self, tx: RedshiftTransaction, sql: str) -> int:
        judge(sql)
        node = sqlglot.parse_one(sql, read="redshift")
        if not (isinstance(node, exp.Copy) and node.args["kind"] is True and isinstance(node.this, exp.Table)):
            raise CopyRefused(f"the emulator implements COPY <table> FROM 's3://…' only: {sql}")
        credentials = node.args["credentials"]
        if set(credentials.args) - {"iam_role"} or credentials.args["iam_role"].name != ROLE:
            raise CopyRefused(f"the emulator takes IAM_ROLE '{ROLE}' and no other credentials: {sql}")
        (source,) = node.args["files"]
        copy: dict = {"sql": sql, "manifest": source.name, "urls": []}
        self.emulation.copies.append(copy)
        options = _options(node, sql)
        urls = copy["urls"] = self._manifest(source.name) if "MANIFEST" in options else self._prefix(source.name)
        table = node.this.sql(dialect="postgres")
        columns = _columns(tx, node.this)
        rows = 0
        for url in urls:
            if self.emulation.fail_on and self.emulation.fail_on in url:
                injected = LoadError(
                    7, "amount", "numeric", "", "x", 1207, "Invalid digit, Value 'x', Pos 0, Type: Decimal"
                )
                self._fail(tx, url, node.this.name, injected)
            data = self._get(url)
            if options.get("FORMAT") == "PARQUET":
                rows += self._load(tx, table, _parquet_rows(data, url, columns))
            else:
                parsed = _csv_rows(data, columns, options)
                if isinstance(parsed, LoadError):
                    self._fail(tx, url, node.this.name, parsed)
                rows += self._load(tx, table, parsed)
        _raw(tx, "SELECT set_config('pa_test.last_copy_count', %s, true)", [str(rows)])
        return tx.execute("SELECT pg_last_copy_count()")[0][0]

    def _manifest(self, url: str) -> list[str]:
        """The manifest's URLs, each mandatory entry present at its ``content_length`` (Redshift checks both)."""
        entries = json.loads(self._get(url))["entries"]
        urls = []
        for entry in entries:
            size = self._size(entry["url"])
            if size is None and entry.get("mandatory", False):
                raise CopyRefused(f"manifest {url}: the mandatory file {entry['url']} does not exist")
            length = entry.get("meta", {}).get("content_length")
            if size is not None and length is not None and length != size:
                raise CopyRefused(f"manifest {url}: {entry['url']} is {size} bytes, its content_length {length}")
            if size is not None:
                urls.append(entry["url"])
        return urls

    def _prefix(self, url: str) -> list[str]:
        """Without MANIFEST, FROM names a key prefix: every object under it is a data file."""
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        listed = self.emulation.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return [f"s3://{bucket}/{item['Key']}" for item in listed]

    def _load(self, tx: RedshiftTransaction, table: str, rows: list[list[str | None]]) -> int:
        """Insert ``rows`` (text, None for NULL) by position on the load's connection; PostgreSQL's count."""
        buffer = io.StringIO()
        for row in rows:
            buffer.write(",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in row) + "\n")
        tx.cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", io.BytesIO(buffer.getvalue().encode()))
        return tx.cursor.rowcount

    def _fail(self, tx: RedshiftTransaction, url: str, table: str, error: LoadError) -> None:
        """Fail the COPY as Redshift does: an ``stl_load_errors`` row, then an error on the load's session."""
        session = tx.session()
        columns = (
            "session, query, filename, line_number, colname, type, raw_line, raw_field_value, err_code, err_reason"
        )
        with psycopg2.connect(**PG) as side, side.cursor() as cur:
            cur.execute(
                f'INSERT INTO "{self.emulation.system_schema}".stl_load_errors ({columns}) '
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (session, uuid.uuid4().int % 10**6, url, *_printable(astuple(error))),
            )
        _raw(
            tx,
            f"DO $$ BEGIN RAISE EXCEPTION 'Load into table ''{table}'' failed.  Check ''stl_load_errors'' "
            "system table for details.'; END $$",
        )

    def _get(self, url: str) -> bytes:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        return self.emulation.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def _size(self, url: str) -> int | None:
        bucket, _, key = url.removeprefix("s3://").partition("/")
        listed = self.emulation.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
        return next((item["Size"] for item in listed if item["Key"] == key), None)


def _columns(tx: RedshiftTransaction, table: exp.Table) -> list[tuple]:
    """The target's columns (name, type, character length) in order."""
    sql = (
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns"
        " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position"
    )
    return _raw(tx, sql, [table.db, table.name])


def _printable(values: tuple) -> tuple:
    """The values with NUL characters dropped (a PostgreSQL text cannot hold them; Redshift shows them as blanks)."""
    return tuple(v.replace("\x00", "") if isinstance(v, str) else v for v in values)


def _raw(tx: RedshiftTransaction, sql: str, params: list | None = None) -> list[tuple]:
    """The emulator's own statement on the load's connection, not judged (it is not the warehouse's)."""
    psycopg2.extensions.cursor.execute(tx.cursor, sql, params)
    return tx.cursor.fetchall() if tx.cursor.description else []


def _options(node: exp.Copy, sql: str) -> dict[str, str | None]:
    """The COPY's options by name; one the emulator does not implement raises ``CopyRefused``."""
    options: dict[str, str | None] = {}
    for param in node.args.get("params", []):
        name, value = param.this.name.upper(), param.expression
        if name in _FLAGS and isinstance(value, exp.Var):  # the next word, read as this flag's value
            options[name] = None
            name, value = value.name.upper(), None
        options[name] = value.name.upper() if isinstance(value, exp.Var) else value and value.name
    unknown = [name for name in options if name not in _FLAGS | _VALUED]
    if unknown or options.get("FORMAT", "CSV") not in ("PARQUET", "CSV"):
        raise CopyRefused(f"the emulator does not implement {', '.join(unknown) or options['FORMAT']}: {sql}")
    if "FORMAT" not in options:
        raise CopyRefused(f"without FORMAT AS, Redshift reads pipe-delimited text, which the emulator does not: {sql}")
    if options["FORMAT"] == "PARQUET" and set(options) - {"FORMAT", "MANIFEST"}:
        raise CopyRefused(f"Redshift refuses data-conversion options with FORMAT AS PARQUET: {sql}")
    return options


def _parquet_rows(data: bytes, url: str, columns: list[tuple]) -> list[list[str | None]]:
    """A Parquet file's rows as text by position; a column count or type family Redshift would refuse raises."""
    try:
        table = pq.read_table(io.BytesIO(data))
    except pa.ArrowInvalid as exc:
        raise CopyRefused(f"{url} is not a Parquet file ({exc})") from None
    if table.num_columns != len(columns):
        raise CopyRefused(f"{url}: {table.num_columns} Parquet columns for a {len(columns)}-column table")
    texts = []
    for position, (column, (name, data_type, _)) in enumerate(zip(table.columns, columns, strict=True)):
        family = _family(column.type)
        if data_type not in _PARQUET_FAMILIES.get(family, set()):
            raise CopyRefused(
                f"{url}: column {position + 1} ({name} {data_type}) has an incompatible Parquet type {column.type}"
            )
        if family == "binary":
            texts.append([None if v is None else "\\x" + v.hex() for v in column.to_pylist()])
        else:
            texts.append(column.cast(pa.string()).to_pylist())
    return [list(row) for row in zip(*texts, strict=True)]


def _family(kind: pa.DataType) -> str:
    """The Parquet type family of an Arrow type."""
    checks = [
        (pa.types.is_integer, "int"),
        (pa.types.is_floating, "float"),
        (pa.types.is_decimal, "decimal"),
        (lambda k: pa.types.is_string(k) or pa.types.is_large_string(k), "string"),
        (pa.types.is_boolean, "bool"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_time, "time"),
        (lambda k: pa.types.is_binary(k) or pa.types.is_large_binary(k), "binary"),
    ]
    return next((family for check, family in checks if check(kind)), str(kind))


def _csv_rows(data: bytes, columns: list[tuple], options: dict[str, str | None]) -> list[list[str | None]] | LoadError:
    """The rows of a CSV file as the statement's options read them, or the first bad line's ``LoadError``."""
    stream = io.StringIO(data.decode("utf-8", errors="replace"), newline="")
    skip = int(options.get("IGNOREHEADER") or 0)
    for _ in range(skip):
        stream.readline()
    delimiter = options.get("DELIMITER") or ","
    reader = csv.reader(stream, delimiter=delimiter)
    rows: list[list[str | None]] = []
    try:
        for fields in reader:
            number, line = skip + reader.line_num, delimiter.join(fields)
            if len(fields) != len(columns):
                few = len(fields) < len(columns)
                reason = "Delimiter not found" if few else "Extra column(s) found"
                return LoadError(number, "", "", line, "", 1214 if few else 1216, reason)
            row: list[str | None] = []
            for value, (name, data_type, length) in zip(fields, columns, strict=True):
                loaded = _field(value, data_type, length, options)
                if isinstance(loaded, tuple):
                    return LoadError(number, name, data_type, line, value, *loaded)
                row.append(loaded)
            rows.append(row)
    except csv.Error as exc:
        return LoadError(skip + reader.line_num, "", "", "", "", 1214, f"Invalid CSV: {exc}")
    return rows


def _field(value: str, data_type: str, length: int | None, options: dict) -> str | tuple[int, str] | None:
    """One CSV field as Redshift converts it for ``data_type``: its text, None for NULL, or (err_code, reason)."""
    if value == options.get("NULL") or (value == "" and ("EMPTYASNULL" in options or data_type not in _TEXT)):
        return None
    if data_type in _INTEGERS and not re.fullmatch(r"[+-]?\d+", value):
        return 1207, f"Invalid digit, Value '{value[:1]}', Pos 0, Type: Integer"
    if data_type in ("numeric", "real", "double precision") and not _is_number(value):
        return 1207, f"Invalid digit, Value '{value[:1]}', Pos 0, Type: Decimal"
    if data_type == "date" and not _is_time(value, options.get("DATEFORMAT"), _DEFAULT_DATE):
        return 1205, "Invalid Date Format - length must be 10 or more"
    default = _DEFAULT_TIMETZ if data_type == "timestamp with time zone" else _DEFAULT_TIME
    if data_type.startswith("timestamp") and not _is_time(value, options.get("TIMEFORMAT"), default):
        return 1206, "Invalid timestamp format or value [YYYY-MM-DD HH24:MI:SS]"
    if data_type in _TEXT and length is not None and len(value.encode()) > length:
        return 1204, "String length exceeds DDL length"
    return value


_TEXT = {"character varying", "character", "text"}


def _is_number(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def _is_time(value: str, fmt: str | None, default: re.Pattern) -> bool:
    """Whether ``value`` reads as a date or timestamp under DATEFORMAT/TIMEFORMAT ``fmt`` ('auto' or the default)."""
    if fmt is None:
        return bool(default.fullmatch(value))
    if fmt.lower() != "auto":
        raise CopyRefused(f"the emulator implements DATEFORMAT/TIMEFORMAT 'auto' only, not {fmt!r}")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def install(pg, emulation: Emulation) -> None:
    """Create the emulated system objects in ``emulation.system_schema`` and route COPYs through ``emulation``."""
    with pg.cursor() as cur:
        cur.execute(f'''CREATE SCHEMA "{emulation.system_schema}";
            CREATE TABLE "{emulation.system_schema}".stl_load_errors (userid int DEFAULT 100, slice int DEFAULT 1,
                tbl int DEFAULT 0, starttime timestamp DEFAULT now(), session int, query int, filename char(256),
                line_number bigint, colname char(127), type char(10), col_length char(10) DEFAULT '',
                position int DEFAULT 0, raw_line char(1024), raw_field_value char(1024), err_code int,
                err_reason char(100), is_partial int DEFAULT 0, start_offset bigint DEFAULT 0);
            CREATE FUNCTION "{emulation.system_schema}".pg_last_copy_count() RETURNS bigint LANGUAGE sql
                AS $$ SELECT current_setting('pa_test.last_copy_count')::bigint $$''')
    EmulatedRedshift.emulation = emulation
