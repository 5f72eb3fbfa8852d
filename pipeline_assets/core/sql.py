"""SQL text helpers shared by sources and warehouses."""


def quote_identifier(identifier: str, quote_char: str = '"') -> str:
    """``identifier`` quoted, its quote characters doubled: safe for any name a catalog or a config holds."""
    return quote_char + identifier.replace(quote_char, quote_char * 2) + quote_char
