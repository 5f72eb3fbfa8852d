"""How each warehouse kind compares and bounds table names, so two tables never land in one target table.

This project always double-quotes identifiers. Even so, a warehouse may treat two spellings as one table:

- PostgreSQL: a quoted name keeps its case (``"Customer"`` and ``"customer"`` are two tables); a name past
  NAMEDATALEN - 1 = 63 bytes is cut short without an error ("Identifiers and Key Words", PostgreSQL docs).
- DuckDB: names keep the case they were created with but are resolved without case, "also when quoted"
  (DuckDB docs, "Keywords and Identifiers"); no length limit.
- Redshift: ASCII letters in standard and quoted names are folded to lower case unless the cluster or session sets
  ``enable_case_sensitive_identifier``; names are 1 to 127 bytes ("Names and identifiers", Amazon Redshift docs).
- Snowflake: a quoted name keeps its case, but the account, user or session parameter
  ``QUOTED_IDENTIFIERS_IGNORE_CASE`` makes quoted names resolve as upper case, and this project does not pin it;
  names are at most 255 characters ("Identifier requirements", Snowflake docs).

A table's name also leaves room for the ``__pa_new``/``__pa_old`` tables a full refresh names after it.
Watermarks and ledger rows are keyed by ``schema.table`` within the target warehouse, so distinct target tables
(no dots in either part) give distinct keys; the bookkeeping schema itself is kept out of users' reach.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pipeline_assets.core.target import BOOKKEEPING_SCHEMA, BUILDING_SUFFIX, RETIRED_SUFFIX

FIX = "set target_table on one of them"
# a table's name leaves room for the work tables a full refresh names after it (``orders__pa_new``)
WORK_SUFFIX = max(BUILDING_SUFFIX, RETIRED_SUFFIX, key=len)


@dataclass(frozen=True)
class NameRule:
    """A warehouse kind's identifier rule: how it compares names and how long one may be."""

    label: str
    fold: Callable[[str], str]  # two names are one table when their folds are equal
    reason: str  # why two spellings are one table, for the error
    max_bytes: int | None = None  # UTF-8 bytes, as PostgreSQL and Redshift count
    max_chars: int | None = None  # characters, as Snowflake counts


def _ascii_lower(name: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in name)


RULES = {
    "postgres": NameRule("PostgreSQL", str, "PostgreSQL names are quoted, so compared exactly", max_bytes=63),
    "duckdb": NameRule("DuckDB", str.lower, "DuckDB compares names without case, even quoted ones"),
    "redshift": NameRule(
        "Redshift",
        _ascii_lower,
        "Redshift folds names to lower case (unless enable_case_sensitive_identifier is on)",
        max_bytes=127,
    ),
    "snowflake": NameRule(
        "Snowflake",
        str.upper,
        "Snowflake compares quoted names without case when QUOTED_IDENTIFIERS_IGNORE_CASE is set",
        max_chars=255,
    ),
}


@dataclass(frozen=True)
class Destination:
    """Where one configured table loads: its index in ``tables:``, the warehouse, and the target's two parts."""

    index: int
    warehouse: str
    kind: str
    schema: str
    name: str

    def key(self) -> tuple[str, str, str]:
        """What the warehouse compares: two destinations with equal keys are one table."""
        fold = RULES[self.kind].fold
        return self.warehouse, fold(self.schema), fold(self.name)


def too_long(rule: NameRule, identifier: str, reserve: str = "") -> str | None:
    """How ``identifier`` exceeds ``rule``'s limit less the room ``reserve`` takes ("60 bytes, over the 55 ..."), or
    None if it fits."""
    for unit, size, limit in (
        ("bytes", len(identifier.encode()), rule.max_bytes),
        ("characters", len(identifier), rule.max_chars),
    ):
        if limit is None:
            continue
        room = limit - len(reserve.encode() if unit == "bytes" else reserve)
        if size > room:
            spared = f" ({limit}, less {limit - room} for the {reserve} table of a full refresh)" if reserve else ""
            return f"{size} {unit}, over the {room} {rule.label} takes{spared}"
    return None


def check_names(destinations: Iterable[Destination]) -> None:
    """Refuse (a ValueError, one line) a target name the warehouse would cut short, a target in the bookkeeping
    schema, and two tables the warehouse would treat as one."""
    seen: dict[tuple[str, str, str], Destination] = {}
    for d in destinations:
        rule = RULES[d.kind]
        where = f"{d.kind} {d.warehouse!r}"
        for part, identifier, reserve in (("schema", d.schema, ""), ("table", d.name, WORK_SUFFIX)):
            excess = too_long(rule, identifier, reserve)
            if excess:
                raise ValueError(
                    f"tables[{d.index}]: target {part} {identifier!r} in {where} is {excess}, and the server "
                    "would cut it short silently; set target_table to a shorter name"
                )
        if RULES["redshift"].fold(d.schema) == BOOKKEEPING_SCHEMA:
            raise ValueError(
                f"tables[{d.index}]: target schema {d.schema!r} in {where} holds this project's bookkeeping "
                "(ledger, watermarks); set target_table to another schema"
            )
        first = seen.setdefault(d.key(), d)
        if first is not d:
            raise ValueError(_collision(first, d))


def _collision(first: Destination, second: Destination) -> str:
    """The one line that names two tables with one destination, and why the warehouse takes them as one."""
    where = f"{second.kind} {second.warehouse!r}"
    both = f"tables[{first.index}] and tables[{second.index}] both load into {where} as"
    if (first.schema, first.name) == (second.schema, second.name):
        return f"{both} {second.schema}.{second.name}; {FIX}"
    names = f"{first.schema}.{first.name} and {second.schema}.{second.name}"
    return f"{both} one table ({names}): {RULES[second.kind].reason}; {FIX}"
