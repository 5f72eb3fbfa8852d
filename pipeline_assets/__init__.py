"""Replicate operational database tables into analytics warehouses through an object-store stage, as Dagster assets."""
