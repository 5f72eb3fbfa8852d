"""The core: value types and helpers every layer shares (errors, schemas and windows, manifests, the stage store's
interface, ledger records, SQL quoting, progress). It imports no Dagster, no driver and nothing else of this package."""
