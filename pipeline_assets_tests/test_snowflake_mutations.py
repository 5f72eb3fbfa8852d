"""Mutation checks of the Snowflake load through the stand-in: each clause the COPY needs, taken out of its text,
makes an end-to-end load fail; the unmutated statement loads.

Without ``MATCH_BY_COLUMN_NAME`` Snowflake refuses a Parquet COPY into a table of several columns ("PARQUET file
format can produce one and only one column of type variant, object, or array": Snowflake's COPY INTO <table>
reference, MATCH_BY_COLUMN_NAME), and fakesnow refuses it alike. Without ``FILES = (…)`` COPY reads every file
under the folder: the stage's ``_manifest.json`` too, which no Parquet reader can read, so the COPY fails (a stray
Parquet file is there as well)."""

import re
from collections.abc import Callable

import pytest

from pipeline_assets.connect.snowflake_sql import copy_into_sql
from pipeline_assets.warehouses import snowflake as snowflake_warehouse
from pipeline_assets_tests.runs import failure, metadata, run_table
from pipeline_assets_tests.test_snowflake import DAYS, _config, _first_file, _orders


def _without_match_by_column_name(sql: str) -> str:
    return sql.replace(" MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE", "")


def _without_files(sql: str) -> str:
    return re.sub(r" FILES = \((?:'(?:[^']|'')*'(?:, )?)*\)", "", sql)


MUTATIONS: dict[str, tuple[Callable[[str], str] | None, str | None]] = {
    "unmutated": (None, None),
    "no MATCH_BY_COLUMN_NAME": (_without_match_by_column_name, "002019 (0A000): SQL compilation error"),
    "no FILES list": (_without_files, "COPY could not read a file in its file format"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_a_snowflake_load_fails_without_each_clause_it_needs(
    mutation, pg, pg_schema, wh_schema, snowflake, s3_server, s3_bucket, instance, tmp_path, monkeypatch
):
    change, error = MUTATIONS[mutation]
    _orders(pg, pg_schema)
    config = _config(tmp_path, snowflake, s3_server, s3_bucket, pg_schema, wh_schema)
    staged = run_table(config, instance, "orders", DAYS[0], only="staged")
    assert staged.success, failure(staged)
    folder = metadata(staged, ["stage", "app", "orders"])["stage_path"].removeprefix(f"s3://{s3_bucket}/")
    client = s3_server.client()
    client.copy_object(  # a stray beside the staged files: only a COPY that names its files leaves it out
        Bucket=s3_bucket,
        Key=f"{folder}/stray.parquet",
        CopySource={"Bucket": s3_bucket, "Key": f"{folder}/{_first_file(client, s3_bucket, folder)}"},
    )
    if change is not None:
        mutated = change
        monkeypatch.setattr(snowflake_warehouse, "copy_into_sql", lambda *args: mutated(copy_into_sql(*args)))
    loaded = run_table(config, instance, "orders", DAYS[0], only="loaded")
    if error is None:
        assert loaded.success, failure(loaded)
        assert snowflake.query(f'SELECT count(*) FROM "{wh_schema}"."orders"') == [(1440,)]
    else:
        assert not loaded.success and error in failure(loaded), failure(loaded) if not loaded.success else "loaded"


def test_the_mutations_change_the_statement():
    """Each mutation takes its clause out of the COPY text and nothing else."""
    sql = copy_into_sql(
        '"s"."t"', "s3://b/p", ["a.parquet", "it's.parquet"], "parquet", "abort", "STORAGE_INTEGRATION = i"
    )
    assert "MATCH_BY_COLUMN_NAME" not in _without_match_by_column_name(sql)
    assert "FILES" not in _without_files(sql) and _without_files(sql).count("'") == sql.count("'") - 6
