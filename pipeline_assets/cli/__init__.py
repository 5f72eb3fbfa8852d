"""The ``pipeline-assets`` command (top layer): sync, watermark, stage, ledger, files, check and ui, each a module.
It may import every layer below it; nothing in the package imports it."""
