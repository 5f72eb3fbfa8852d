"""The stage: files between a source and a warehouse (stores, file writer and reader, manifests, IO manager)."""
