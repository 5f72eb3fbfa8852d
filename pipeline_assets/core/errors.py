"""The one exception users see, and the scrubbing that keeps secrets out of its text."""

from collections.abc import Iterable
from urllib.parse import quote

from pipeline_assets.core.transience import Phase, is_transient


class PipelineError(Exception):
    """A failure explained in one line that names its culprit (a table, a column, a connection, a config path).

    Raised for user mistakes and unreachable services; the CLI prints it without a traceback and Dagster
    shows it as the step's failure description.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class ConfigError(PipelineError):
    """The configuration file is malformed or inconsistent."""


class TransientError(PipelineError):
    """A failure worth retrying: a dropped connection, a server restarting, a throttled request."""


def driver_error(message: str, exc: BaseException, phase: Phase) -> PipelineError:
    """``message`` as a TransientError when ``exc``, raised in ``phase``, may pass on a retry (judged by the driver's
    exception class and code, see ``transience``), else as a PipelineError."""
    return (TransientError if is_transient(exc, phase) else PipelineError)(message)


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every non-empty secret in ``text`` with ``***``, as written and as it appears inside a URL."""
    for secret in secrets:
        if secret:
            for form in (secret, quote(secret, safe="")):
                text = text.replace(form, "***")
    return text


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (driver errors often span several).

    DB-API drivers such as PyMySQL raise ``(code, message)`` tuples; those read as ``message (code)``."""
    if len(exc.args) == 2 and isinstance(exc.args[0], int) and isinstance(exc.args[1], str):
        return f"{first_line(type(exc)(exc.args[1]))} (error {exc.args[0]})"
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
