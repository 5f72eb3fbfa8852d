"""Which dropped files a run takes: the ledger decides (never the listing alone), in bounded batches."""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pipeline_assets.config.files import FilesTableConfig
from pipeline_assets.core.records import SourceFile
from pipeline_assets.warehouses.source_ledger import PROCESSED, SourceRecord

LOAD, SKIP, DONE, GIVEN_UP, IN_FLIGHT = "load", "skip", "done", "given up", "in flight"
RunFinished = Callable[[str], bool]  # run id -> whether that run is over (so a file it left 'staged' is free again)


@dataclass(frozen=True)
class Decision:
    file: SourceFile
    action: str
    attempts: int = 0


def decide(
    files: Iterable[SourceFile],
    records: Iterable[SourceRecord],
    config: FilesTableConfig,
    run_finished: RunFinished | None = None,
) -> list[Decision]:
    """What to do with each listed file version, by the ledger: load it (new, cleared, a failure with retries left,
    or left behind by a run that died), skip it (a changed file while overwrites are not allowed), or leave it."""
    by_version = {(r.uri, r.etag): r for r in records}
    processed_uris = {r.uri for r in records if r.status in (*PROCESSED, "staged")}
    decisions = []
    for file in files:
        record = by_version.get((file.uri, file.etag))
        if record is None:
            action = SKIP if file.uri in processed_uris and not config.allow_overwrites else LOAD
            decisions.append(Decision(file, action))
        elif record.status in PROCESSED:
            decisions.append(Decision(file, DONE, record.attempts))
        elif record.status == "skipped":
            decisions.append(Decision(file, LOAD if config.allow_overwrites else DONE, record.attempts))
        elif record.status == "failed":
            decisions.append(
                Decision(file, LOAD if record.attempts <= config.max_retries else GIVEN_UP, record.attempts)
            )
        elif (
            record.status == "staged"
            and run_finished is not None
            and not (record.run_id and run_finished(record.run_id))
        ):
            decisions.append(Decision(file, IN_FLIGHT, record.attempts))
        else:  # cleared, or staged by a run that is over without loading it
            decisions.append(Decision(file, LOAD, record.attempts))
    return decisions


def batches(decisions: list[Decision], max_files: int, max_bytes: int) -> list[list[Decision]]:
    """Consecutive runs of at most ``max_files`` files and ``max_bytes`` bytes (a larger file goes alone)."""
    out: list[list[Decision]] = []
    current: list[Decision] = []
    size = 0
    for decision in decisions:
        if current and (len(current) >= max_files or size + decision.file.bytes > max_bytes):
            out.append(current)
            current, size = [], 0
        current.append(decision)
        size += decision.file.bytes
    return out + ([current] if current else [])


def run_key(table: str, partition: str | None, batch: list[Decision], tick: int) -> str:
    """The same batch of file versions asked for by the same tick (the cursor's count) gets the same key: a tick
    repeated after a crash, before its cursor was saved, launches nothing. A later tick may ask again for files
    whose run failed without a trace in the ledger; files that queued or running runs carry it never asks for."""
    text = f"{tick}\n" + "\n".join(sorted(f"{d.file.key}\0{d.file.etag}\0{d.attempts}" for d in batch))
    return f"autoload:{table}:{partition or 'full'}:{hashlib.sha256(text.encode()).hexdigest()[:24]}"
