"""The embedded demo: a generated SQLite shop, a local stage folder and a DuckDB warehouse. Imports nothing of the
package (the project module writes its config)."""
