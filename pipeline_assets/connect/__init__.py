"""Reaching a service that a source and a warehouse both talk to (Snowflake): its session, the clauses that let it
read or write the stage, and the SQL text both sides use. Drivers load only when a connection is made."""
