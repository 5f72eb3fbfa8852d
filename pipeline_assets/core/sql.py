"""SQL text helpers shared by sources and warehouses."""


def quote_identifier(identifier: str, quote_char: str = '"') -> str:
    """``identifier`` quoted, its quote characters doubled: safe for any name a catalog or a config holds."""
    return quote_char + identifier.replace(quote_char, quote_char * 2) + quote_char


def string_literal(value: str, backslash_escapes: bool = False) -> str:
    """``value`` as a SQL string literal, for the few statements that take no bound parameters (COPY's file lists and
    locations): quotes doubled, and backslashes too where the dialect reads them as escapes (Snowflake)."""
    if backslash_escapes:
        value = value.replace("\\", "\\\\")
    return "'" + value.replace("'", "''") + "'"
