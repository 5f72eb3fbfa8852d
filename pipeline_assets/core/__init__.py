"""The core: value types and helpers every layer shares; it imports no Dagster and no driver."""
