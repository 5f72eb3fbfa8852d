"""Progress of long extractions and loads: a line in the Dagster log at a steady cadence, and live
updates for anyone listening in the same process (the CLI's progress display)."""

import time
from collections.abc import Callable

Listener = Callable[[str, str, int], None]  # (label, phase, rows so far)
_listeners: list[Listener] = []


def listen(listener: Listener) -> Callable[[], None]:
    """Register ``listener``; returns a function that unregisters it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


class Progress:
    def __init__(
        self,
        label: str,
        phase: str,
        log: Callable[[str], None] | None = None,
        every_seconds: float = 10.0,
        total: int | None = None,
    ):
        self.label, self.phase, self.log, self.every, self.total = label, phase, log, every_seconds, total
        self.rows = 0
        self.started = self._last_log = time.monotonic()

    def advance(self, rows: int) -> None:
        self.rows += rows
        for listener in list(_listeners):
            listener(self.label, self.phase, self.rows)
        now = time.monotonic()
        if self.log and now - self._last_log >= self.every:
            self._last_log = now
            self.log(
                f"{self.label}: {self.phase} {self.rows:,}{self._of_total()} rows "
                f"({self.rate:,.0f} rows/s{self._eta()})"
            )

    def _of_total(self) -> str:
        return f" of {self.total:,}" if self.total else ""

    def _eta(self) -> str:
        if not self.total or not self.rate:
            return ""
        return f", about {max(self.total - self.rows, 0) / self.rate:,.0f} s left"

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0
