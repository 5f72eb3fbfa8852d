"""The embedded demo: a generated SQLite shop, a local stage folder and a DuckDB warehouse."""
