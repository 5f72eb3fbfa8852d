"""What Redshift would refuse in a statement that PostgreSQL (the stand-in) accepts.

Every statement the ``RedshiftWarehouse`` sends through the stand-in is parsed with sqlglot's Redshift dialect and
checked against the constructs below, each drawn from the Amazon Redshift Database Developer Guide (the page is
named beside each rule, under https://docs.aws.amazon.com/redshift/latest/dg/). A statement sqlglot cannot read
as Redshift, or one using such a construct, raises ``NotRedshift`` naming the construct and the statement.

This is a list, not a Redshift: a construct missing here still passes, and so does anything whose meaning differs
between the two (see the README's "Tests" section).
"""

import re

import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

# c_unsupported-postgresql-datatypes.html: arrays, BIT, BYTEA, JSON (JSONB with it), SERIAL…, MONEY, network address,
# range, text search types, UUID, XML
_UNSUPPORTED_TYPES = {
    exp.DataType.Type.ARRAY,
    exp.DataType.Type.BIT,
    exp.DataType.Type.JSON,
    exp.DataType.Type.JSONB,
    exp.DataType.Type.SERIAL,
    exp.DataType.Type.BIGSERIAL,
    exp.DataType.Type.SMALLSERIAL,
    exp.DataType.Type.MONEY,
    exp.DataType.Type.INET,
    exp.DataType.Type.HSTORE,
    exp.DataType.Type.UUID,
    exp.DataType.Type.XML,
    exp.DataType.Type.INT4RANGE,
    exp.DataType.Type.INT8RANGE,
    exp.DataType.Type.TSRANGE,
    exp.DataType.Type.TSTZRANGE,
    exp.DataType.Type.DATERANGE,
    exp.DataType.Type.NUMRANGE,
}
# spellings sqlglot maps onto a type Redshift has (BYTEA reads as VARBINARY, Redshift's VARBYTE)
_UNSUPPORTED_TYPE_WORDS = {"BYTEA", "JSONB", "CIDR", "MACADDR", "TSVECTOR", "TSQUERY", "TXID_SNAPSHOT", "REGCLASS"}

# c_unsupported-postgresql-functions.html: advisory locks, the listed aggregates, array functions (UNNEST),
# set-returning, date/time, math and string functions, and sequence manipulation
_UNSUPPORTED_FUNCTIONS = {
    "PG_ADVISORY_LOCK",
    "PG_ADVISORY_XACT_LOCK",
    "PG_TRY_ADVISORY_LOCK",
    "PG_TRY_ADVISORY_XACT_LOCK",
    "STRING_AGG",
    "ARRAY_AGG",
    "EVERY",
    "XML_AGG",
    "CORR",
    "COVAR_POP",
    "COVAR_SAMP",
    "GENERATE_SERIES",
    "GENERATE_SUBSCRIPTS",
    "CLOCK_TIMESTAMP",
    "JUSTIFY_DAYS",
    "JUSTIFY_HOURS",
    "JUSTIFY_INTERVAL",
    "PG_SLEEP",
    "TRANSACTION_TIMESTAMP",
    "DIV",
    "SETSEED",
    "WIDTH_BUCKET",
    "BIT_LENGTH",
    "OVERLAY",
    "CONVERT_FROM",
    "CONVERT_TO",
    "FORMAT",
    "NEXTVAL",
    "CURRVAL",
    "SETVAL",
    "UNNEST",
}

VARCHAR_MAX_BYTES = 65535  # r_Character_types.html: VARCHAR holds at most 65535 bytes
CHAR_MAX_BYTES = 4096  # r_Character_types.html: CHAR holds at most 4096 bytes
NAME_MAX_BYTES = 127  # r_names.html: standard identifiers are at most 127 bytes long
_LOCK_MODE = re.compile(r"\bIN\b.+\bMODE\b|\bNOWAIT\b", re.IGNORECASE | re.DOTALL)


class NotRedshift(AssertionError):
    """A statement Redshift would refuse (an AssertionError: it fails the test that sent it)."""


def judge(sql: str) -> None:
    """Raise ``NotRedshift`` if ``sql`` uses a construct Redshift does not support."""
    problems = unsupported(sql)
    if problems:
        raise NotRedshift(f"Redshift does not support {'; '.join(problems)}, in: {sql}")


def unsupported(sql: str) -> list[str]:
    """The constructs in ``sql`` Redshift does not support, each with the page that says so."""
    try:
        tokens = sqlglot.tokenize(sql, read="redshift")
    except sqlglot.errors.SqlglotError as exc:
        return [f"this statement's tokens (sqlglot's Redshift dialect: {str(exc).splitlines()[0]})"]
    words = [token.text.upper() for token in tokens[:2]]
    if words[:1] in (["SAVEPOINT"], ["RELEASE"]) or words == ["ROLLBACK", "TO"]:
        return ["savepoints (c_unsupported-postgresql-functions.html: ROLLBACK TO SAVEPOINT; c_SQL_commands.html)"]
    try:
        statements = sqlglot.parse(sql, read="redshift")
    except sqlglot.errors.SqlglotError as exc:
        return [f"this statement's grammar (sqlglot's Redshift dialect: {str(exc).splitlines()[0]})"]
    problems = _token_problems(tokens)
    for statement in statements:
        if statement is not None:
            problems += [problem for node in statement.walk() for problem in _node_problems(node)]
    return list(dict.fromkeys(problems))


def _token_problems(tokens: list) -> list[str]:
    """Function calls and type spellings found by word (sqlglot reads some as a Redshift equivalent)."""
    problems = []
    for token, following in zip(tokens, [*tokens[1:], None], strict=True):
        if token.token_type in (TokenType.IDENTIFIER, TokenType.STRING):
            continue
        word = token.text.upper()
        if word in _UNSUPPORTED_FUNCTIONS and following is not None and following.token_type == TokenType.L_PAREN:
            problems.append(f"the function {word}() (c_unsupported-postgresql-functions.html)")
        if word in _UNSUPPORTED_TYPE_WORDS:
            problems.append(f"the type {word} (c_unsupported-postgresql-datatypes.html)")
    return problems


def _node_problems(node: exp.Expression) -> list[str]:
    """The rules that look at one node of the parsed statement."""
    if isinstance(node, exp.OnConflict):
        return ["INSERT … ON CONFLICT (r_INSERT_30.html: no ON CONFLICT clause)"]
    if isinstance(node, exp.Returning):
        return ["RETURNING (r_INSERT_30.html, r_UPDATE.html, r_DELETE.html: no RETURNING clause)"]
    if isinstance(node, exp.Create) and node.kind == "INDEX":
        return ["CREATE INDEX (c_unsupported-postgresql-features.html: indexes)"]
    if isinstance(node, exp.DataType):
        return _type_problems(node)
    if isinstance(node, exp.Identifier) and len(node.name.encode()) > NAME_MAX_BYTES:
        return [f"the {len(node.name.encode())}-byte name {node.name!r} (r_names.html: at most 127 bytes)"]
    if isinstance(node, exp.Tuple) and not isinstance(node.parent, exp.Values):
        return [f"the row constructor {node.sql('redshift')} (c_unsupported-postgresql-features.html)"]
    if isinstance(node, exp.Values) and not isinstance(node.parent, exp.Insert):
        return ["a VALUES list used as a constant table (c_unsupported-postgresql-features.html)"]
    if isinstance(node, exp.Array):
        return ["an array constructor (c_unsupported-postgresql-features.html)"]
    if isinstance(node, exp.Bracket):
        return ["a subscript expression (c_unsupported-postgresql-features.html)"]
    if isinstance(node, (exp.NullSafeEQ, exp.NullSafeNEQ)):
        return ["IS [NOT] DISTINCT FROM (c_unsupported-postgresql-functions.html)"]
    if isinstance(node, exp.AlterColumn) and node.args.get("dtype") is not None:
        return ["ALTER COLUMN … TYPE inside a transaction block, and for any type but VARCHAR (r_ALTER_TABLE.html)"]
    if isinstance(node, exp.ColumnDef) and isinstance(node.parent, exp.Alter) and node.args.get("exists"):
        return ["ADD COLUMN IF NOT EXISTS (r_ALTER_TABLE.html: ADD [ COLUMN ] column_name …)"]
    if isinstance(node, exp.Command) and node.name.upper() == "LOCK" and _LOCK_MODE.search(node.expression.name):
        return ["LOCK … IN … MODE / NOWAIT (r_LOCK.html: LOCK [ TABLE ] table_name [, ...])"]
    return []


def _type_problems(node: exp.DataType) -> list[str]:
    """A data type Redshift lacks, or a character length beyond its limits."""
    if node.this in _UNSUPPORTED_TYPES:
        return [f"the type {node.sql('postgres')} (c_unsupported-postgresql-datatypes.html)"]
    limit = {exp.DataType.Type.VARCHAR: VARCHAR_MAX_BYTES, exp.DataType.Type.CHAR: CHAR_MAX_BYTES}.get(node.this)
    lengths = [p.this for p in node.expressions if isinstance(p, exp.DataTypeParam) and p.this.is_int]
    if limit is not None and lengths and int(lengths[0].name) > limit:
        return [f"the type {node.sql('redshift')} (r_Character_types.html: at most {limit} bytes)"]
    return []
