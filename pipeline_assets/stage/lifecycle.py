"""What each staged object is, by the ledger and Dagster's run records: done, awaiting its load, part of a live
run, or an orphan. Sensors and the ``stage`` command decide from this; nothing here deletes anything."""

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline_assets.core import layout
from pipeline_assets.core.records import LedgerRecord
from pipeline_assets.core.store import StageStore, Upload

DONE, AWAITING, LIVE, ORPHAN = "done", "awaiting load", "live", "orphan"
RunStatus = Callable[[str], str | None]  # run id -> Dagster run status name, None when unknown


@dataclass(frozen=True)
class Entry:
    key: str
    uri: str
    size: int
    modified: datetime
    kind: str  # "file", "manifest" or "upload"
    state: str
    ledger_status: str | None = None
    upload: Upload | None = None

    def age(self, now: datetime) -> timedelta:
        return now - self.modified


def survey(
    store: StageStore,
    table_prefix: str,
    records: list[LedgerRecord],
    run_status: RunStatus,
    now: datetime,
    grace: timedelta,
) -> list[Entry]:
    """Every object and unfinished upload under ``table_prefix``, each with its state."""
    by_version = {(r.file_uri, r.etag): r for r in records}
    objects = list(store.objects(table_prefix + "/"))
    entries: list[Entry] = []
    folders: dict[str, list[str]] = {}
    for obj in objects:
        if layout.is_manifest(obj.key):
            continue
        uri = store.uri(obj.key)
        record = by_version.get((uri, obj.etag))  # a rewritten file (new ETag) is a new version with no record yet
        state = _file_state(record, _run_id(obj.key, record), run_status, now - obj.modified, grace)
        entries.append(Entry(obj.key, uri, obj.size, obj.modified, "file", state, record.status if record else None))
        folders.setdefault(obj.key.rsplit("/", 1)[0], []).append(state)
    for obj in objects:
        if layout.is_manifest(obj.key):
            states = folders.get(obj.key.rsplit("/", 1)[0], [])
            state = _folder_state(states, now - obj.modified, grace)
            entries.append(Entry(obj.key, store.uri(obj.key), obj.size, obj.modified, "manifest", state))
    for upload in store.incomplete_uploads(table_prefix + "/"):
        state = ORPHAN if now - upload.started > grace else LIVE
        entries.append(Entry(upload.key, store.uri(upload.key), 0, upload.started, "upload", state, upload=upload))
    return entries


def _run_id(key: str, record: LedgerRecord | None) -> str | None:
    if record:
        return record.run_id
    folder = key.rsplit("/", 2)[-2]
    if folder.startswith(("run_", "incoming_")):
        return folder.rsplit("_", 1)[-1]
    return None


def _file_state(
    record: LedgerRecord | None, run_id: str | None, run_status: RunStatus, age: timedelta, grace: timedelta
) -> str:
    if record and record.status in ("loaded", "superseded", "deleted"):
        return DONE
    if record and record.status == "cleared":
        return AWAITING  # a user asked for it to be loaded again
    if record and record.status in ("staged", "failed") and run_id and run_status(run_id) == "SUCCESS":
        return AWAITING
    # Young files may belong to a run still writing or about to record them. Past the grace period a file no
    # successful run claims is an orphan: its run failed, or was killed (Dagster may still list it in progress).
    return LIVE if age <= grace else ORPHAN


def _folder_state(states: list[str], age: timedelta, grace: timedelta) -> str:
    for state in (LIVE, AWAITING):
        if state in states:
            return state
    if states and all(s == DONE for s in states):
        return DONE
    return ORPHAN if age > grace else LIVE


def select(
    entries: list[Entry],
    *,
    states: set[str],
    older_than: timedelta | None = None,
    pattern: str | None = None,
    under: str = "",
    now: datetime,
) -> list[Entry]:
    """The entries in ``states``, older than ``older_than``, whose key below the table's folder ``under`` (partition,
    run folder with its timestamp, file name) or whose file name matches ``pattern``."""
    chosen = []
    for entry in entries:
        if entry.state not in states or (older_than is not None and entry.age(now) <= older_than):
            continue
        below, name = entry.key.removeprefix(f"{under}/"), entry.key.rsplit("/", 1)[-1]
        if pattern and not (fnmatch.fnmatch(below, pattern) or fnmatch.fnmatch(name, pattern)):
            continue
        chosen.append(entry)
    return chosen


def delete(store: StageStore, entries: list[Entry]) -> int:
    """Delete the entries' objects (aborting unfinished uploads); return the bytes freed."""
    store.delete([e.key for e in entries if e.kind != "upload"])
    for entry in entries:
        if entry.upload:
            store.abort(entry.upload)
    return sum(e.size for e in entries)
