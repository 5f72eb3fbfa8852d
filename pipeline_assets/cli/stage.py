"""``stage``: look at and clean a table's staged files (the shape of the older ``s3clean`` tool)."""

from datetime import UTC, datetime

import click

from pipeline_assets.cli.context import confirm, open_context, table_stages
from pipeline_assets.config.durations import parse_duration
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.sensors.table_stage import TableStage, run_status_lookup
from pipeline_assets.stage.lifecycle import AWAITING, DONE, ORPHAN, Entry, delete, select
from pipeline_assets.stage.s3 import S3Store


@click.group()
def stage() -> None:
    """List and clean staged files. Deletes only files whose rows are loaded, unless --all; never a live run's."""


def _one(obj, table: str) -> tuple:
    context = open_context(obj["config_path"])
    return context, table_stages(context.project, [table])[0]


@stage.command("list")
@click.option("-t", "--table", required=True, help="a configured table")
@click.pass_obj
def list_files(obj, table: str) -> None:
    """Every staged object of TABLE with its size, age and ledger status."""
    context, corner = _one(obj, table)
    entries = corner.entries(run_status_lookup(context.instance))
    click.echo(f"{corner.name}: {corner.store.uri(corner.prefix)}/")
    for e in sorted(entries, key=lambda e: e.key):
        click.echo(
            f"  {e.state:<13} {e.ledger_status or '-':<10} {e.size:>14,}  {e.modified:%Y-%m-%d %H:%M:%S}  "
            f"{e.key.removeprefix(corner.prefix + '/')}"
        )
    files = [e for e in entries if e.kind == "file"]
    click.echo(f"{len(files)} files, {sum(e.size for e in entries):,} bytes in all")


@stage.command()
@click.option("-t", "--table", required=True, help="a configured table")
@click.option("--older-than", metavar="AGE", help="only objects older than this (30m, 24h, 7d)")
@click.option(
    "--pattern",
    metavar="GLOB",
    help="only objects whose key below the table's folder matches: partition/run_<YYYYmmdd_HHMMSS>_<run id>/file "
    "(e.g. '*20250809_14*' for the runs staged in that hour, '*batch0000*')",
)
@click.option("--all", "everything", is_flag=True, help="also files not loaded yet (awaiting a load, or orphans)")
@click.option("--dry-run", is_flag=True, help="show what would be deleted, delete nothing")
@click.option("--force", is_flag=True, help="do not ask (needed when not on a terminal)")
@click.pass_obj
def clean(obj, table, older_than, pattern, everything, dry_run, force) -> None:
    """Delete TABLE's staged files whose rows are loaded."""
    age = parse_duration(older_than, "--older-than") if older_than else None
    context, corner = _one(obj, table)
    states = {DONE, AWAITING, ORPHAN} if everything else {DONE}
    _remove(corner, context, states, age, pattern, dry_run, force)


@stage.command()
@click.option("-t", "--table", required=True, help="a configured table")
@click.option("--older-than", metavar="AGE", help="grace period (default: stage.orphan_grace)")
@click.option("--all", "everything", is_flag=True, help="also files staged by a successful run but never loaded")
@click.option("--dry-run", is_flag=True, help="show the orphans, delete nothing")
@click.option("--force", is_flag=True, help="do not ask (needed when not on a terminal)")
@click.pass_obj
def orphans(obj, table, older_than, everything, dry_run, force) -> None:
    """Find (and delete) files left by runs that were killed or failed, older than the grace period."""
    context, corner = _one(obj, table)
    if older_than:
        corner.grace = parse_duration(older_than, "--older-than")
    _remove(corner, context, {ORPHAN, AWAITING} if everything else {ORPHAN}, None, None, dry_run, force)


@stage.command("clean-all")
@click.option("--older-than", metavar="AGE", required=True, help="only objects older than this (30m, 24h, 7d)")
@click.option("--dry-run", is_flag=True, help="show what would be deleted, delete nothing")
@click.option("--force", is_flag=True, help="do not ask (needed when not on a terminal)")
@click.pass_obj
def clean_all(obj, older_than, dry_run, force) -> None:
    """Delete every table's loaded staged files older than AGE."""
    age = parse_duration(older_than, "--older-than")
    context = open_context(obj["config_path"])
    for corner in table_stages(context.project):
        _remove(corner, context, {DONE}, age, None, dry_run, force)


@stage.command()
@click.option("--apply", is_flag=True, help="set the rule on the bucket (else print it)")
@click.pass_obj
def lifecycle(obj, apply: bool) -> None:
    """The S3 lifecycle rule that expires staged objects after stage.retention_days."""
    context = open_context(obj["config_path"])
    project = context.project
    if not project.stage.retention_days:
        raise PipelineError("stage.retention_days is not set in the configuration")
    store = table_stages(project)[0].store
    if not isinstance(store, S3Store):
        raise PipelineError("lifecycle rules need an s3:// stage")
    rule = {
        "ID": "pipeline-assets-retention",
        "Status": "Enabled",
        "Filter": {"Prefix": f"{store.prefix}/" if store.prefix else ""},
        "Expiration": {"Days": project.stage.retention_days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
    click.echo(f"bucket {store.bucket}: {rule}")
    if apply:
        try:
            others = [
                r
                for r in store.client.get_bucket_lifecycle_configuration(Bucket=store.bucket)["Rules"]
                if r.get("ID") != rule["ID"]
            ]
        except store.client.exceptions.ClientError:  # no configuration yet
            others = []
        store.client.put_bucket_lifecycle_configuration(
            Bucket=store.bucket, LifecycleConfiguration={"Rules": [*others, rule]}
        )
        click.echo(f"applied (kept {len(others)} other rules of the bucket)")


def _remove(corner: TableStage, context, states, age, pattern, dry_run: bool, force: bool) -> None:
    now = datetime.now(UTC)
    chosen: list[Entry] = select(
        corner.entries(run_status_lookup(context.instance), now),
        states=states,
        older_than=age,
        pattern=pattern,
        under=corner.prefix,
        now=now,
    )
    for entry in chosen:
        click.echo(f"{'would delete' if dry_run else 'delete'} {entry.uri} ({entry.size:,} bytes, {entry.state})")
    size = sum(e.size for e in chosen)
    if dry_run or not chosen:
        click.echo(
            f"{corner.name}: {'would free' if chosen else 'nothing to delete;'} {len(chosen)} objects, {size:,} bytes"
        )
        return
    confirm(f"delete {len(chosen)} objects ({size:,} bytes) of {corner.name}?", force)
    freed = delete(corner.store, chosen)
    corner.forget(chosen)
    click.echo(f"{corner.name}: deleted {len(chosen)} objects, freed {freed:,} bytes")
