"""How the project's one-line errors become Dagster step failures."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from pipeline_assets.core.errors import PipelineError, TransientError


@contextmanager
def user_errors() -> Iterator[None]:
    """Inside Dagster code: report a PipelineError as a step failure with its one-line description. Only a
    TransientError is retried by the step's RetryPolicy; a wrong column stays wrong."""
    try:
        yield
    except PipelineError as exc:
        raise dg.Failure(description=str(exc), allow_retries=isinstance(exc, TransientError)) from None
