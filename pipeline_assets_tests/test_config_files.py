"""The files source's configuration: defaults, relative folders, and one-line errors for its bad values."""

import pytest

from pipeline_assets.config import load_config, parse_config
from pipeline_assets.core.errors import ConfigError

FILES = """
connections:
  drops: {kind: files, url: landing}
  dw: {kind: duckdb, path: warehouse.duckdb}
tables:
  - {source: drops, table: events, target: dw, files: {pattern: "events/*.csv", format: csv}}
"""


def test_files_defaults_and_a_relative_folder(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text(FILES)
    config = load_config(path)
    assert config.connections["drops"].url == str(tmp_path / "landing")
    table = config.tables[0]
    assert (table.write_mode, table.cursor, table.partitioning) == ("append", None, "none")
    files = table.files
    assert (files.allow_overwrites, files.max_retries, files.max_files_per_run, files.csv_options.delimiter) == (
        False,
        3,
        500,
        ",",
    )
    merged = parse_config(FILES.replace("format: csv}", "format: csv}, write_mode: merge, primary_key: [id]"))
    assert merged.tables[0].cursor == "_source_modified", "merge: the newest file wins by default"
    dated = parse_config(
        FILES.replace(
            "format: csv", r"format: csv, partition_key_pattern: 'dt=(\d{4}-\d{2}-\d{2})/', start_date: 2026-11-01"
        )
    )
    assert dated.tables[0].files.partition_of("events/dt=2026-11-23/a.csv") == "2026-11-23"
    assert dated.tables[0].files.partition_of("events/dt=2026-10-23/a.csv") is None, "before start_date"


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            ("format: csv}", "format: csv}, write_mode: overwrite"),
            "tables[0]: 'overwrite' is not offered for files tables: a flag "
            "that silently re-reads every file is a costly hidden operation, and files are immutable, so 'overwrite' has no clear "
            "meaning; use append or merge, and when you do want a fresh table run one of the explicit recipes: `pipeline-assets "
            "files fresh-start` (drop the table, load new files only) or `pipeline-assets files reprocess` (drop the table and "
            "clear the ledger: load every file again)",
        ),
        (("format: csv}", "format: csv}, write_mode: replace"), "tables[0]: files tables append or merge"),
        (
            ("format: csv}", "format: csv}, partitioning: daily"),
            "tables[0]: files tables take their daily partitions from the object key",
        ),
        (
            ("format: csv", "format: xml"),
            "tables[0].files.format: got 'xml'; input should be 'parquet', 'csv' or 'jsonl'",
        ),
        (("format: csv", "format: parquet, csv: {delimiter: ';'}"), "tables[0].files: csv options are for format csv"),
        (
            ("format: csv", "format: csv, csv: {delimiter: ';;'}"),
            "tables[0].files.csv.delimiter: String should have at most 1 character",
        ),
        (
            ("format: csv", "format: csv, max_retries: -1"),
            "tables[0].files.max_retries: Input should be greater than or equal to 0",
        ),
        (
            ("format: csv", "format: csv, max_files_per_run: 0"),
            "tables[0].files.max_files_per_run: Input should be greater than 0",
        ),
        (
            ("format: csv", "format: csv, columns: {id: integer}"),
            "tables[0].files.columns: column 'id': unknown type 'integer'",
        ),
        (
            ("format: csv", "format: csv, columns: {_source_file: string}"),
            "tables[0].files.columns: _source_file is a column every files table gets",
        ),
        (
            ("format: csv", "format: csv, partition_key_pattern: 'dt=.*'"),
            "tables[0].files.partition_key_pattern: needs exactly one group",
        ),
        (
            ("format: csv", "format: csv, partition_key_pattern: 'dt=(\\\\d'"),
            "tables[0].files.partition_key_pattern: not a regular expression",
        ),
        (
            ("format: csv", r"format: csv, partition_key_pattern: 'dt=(\d+)'"),
            "tables[0].files: partition_key_pattern and start_date go together",
        ),
        (
            ('pattern: "events/*.csv"', 'pattern: "/abs/*.csv"'),
            "tables[0].files.pattern: pattern is relative to the connection's url",
        ),
        (("{kind: files, url: landing}", "{kind: files}"), "connections.drops: a files connection needs url"),
        (
            ("{kind: files, url: landing}", "{kind: files, url: 'gs://b/x'}"),
            "connections.drops: url: use s3://bucket/prefix or a local folder",
        ),
        (
            ("{kind: files, url: landing}", "{kind: files, url: landing, host: h}"),
            "connections.drops: a files connection takes url and s3, not host",
        ),
        (
            ("{kind: files, url: landing}", "{kind: files, url: landing, s3: {region: x}}"),
            "connections.drops: s3 settings need an s3:// url",
        ),
        (
            ("{kind: duckdb, path: warehouse.duckdb}", "{kind: duckdb, path: w.duckdb, url: x}"),
            "connections.dw: url and s3 are for files connections",
        ),
        (
            (', files: {pattern: "events/*.csv", format: csv}', ""),
            "tables[0]: source 'drops' is a files connection; add a files: block",
        ),
        (
            ("source: drops", "source: dw"),
            "tables[0].files: source 'dw' is a duckdb connection; files: is for tables of a files connection",
        ),
        (("target: dw", "target: drops"), "tables[0].target: a files connection cannot be a target"),
    ],
)
def test_bad_files_values_name_their_yaml_path(edit, expected):
    text = FILES.replace(*edit)
    assert text != FILES
    with pytest.raises(ConfigError) as error:
        parse_config(text, origin="pipeline.yaml")
    message = str(error.value)
    assert "\n" not in message and message.startswith("pipeline.yaml: ")
    assert expected in message, message
