"""How a files table's run reports itself: per-file outcomes in metadata, and a run tag for partial success
(Dagster has no PARTIAL_SUCCESS run status; the tag, the counts and the failed-files check stand in for it)."""

import dagster as dg

from pipeline_assets.core.manifest import SourceOutcome

OUTCOME_TAG = "pipeline_assets/outcome"
_SHOWN = 200  # rows of the per-file table; the counts cover every file


def load_outcomes(sources: tuple[SourceOutcome, ...], already: set[tuple[str, str]]) -> list[SourceOutcome]:
    """The staged files are loaded now (or were already, by another run); failures and skips stay as they were."""
    out = []
    for o in sources:
        if o.status == "staged":
            o = SourceOutcome(**{**o.__dict__, "status": "already loaded" if (o.uri, o.etag) in already else "loaded"})
        out.append(o)
    return out


def run_outcome(outcomes: list[SourceOutcome]) -> str:
    loaded = sum(o.status == "loaded" for o in outcomes)
    failed = sum(o.status == "failed" for o in outcomes)
    if failed and loaded:
        return "partial_success"
    if failed:
        return "failed"
    return "success" if loaded else "nothing_loaded"


def outcome_metadata(outcomes: list[SourceOutcome]) -> dict:
    counts = {
        status: sum(o.status == status for o in outcomes)
        for status in ("loaded", "staged", "failed", "skipped", "already loaded")
    }
    metadata: dict = {f"files_{status.replace(' ', '_')}": n for status, n in counts.items() if n}
    lines = [
        f"| `{o.key}` | {o.status} | {o.rows:,} | {(o.error or '').replace('|', '/')} |" for o in outcomes[:_SHOWN]
    ]
    if len(outcomes) > _SHOWN:
        lines.append(f"| … and {len(outcomes) - _SHOWN} more | | | |")
    metadata["file_outcomes"] = dg.MetadataValue.md(
        "| file | outcome | rows | error |\n|---|---|---:|---|\n" + "\n".join(lines)
    )
    return metadata
