"""One idle connection kept for the next use: a run's many short transactions (ledger, watermark, each day's load
and checks) share a connection instead of paying a new connect each time (about 50 ms to PostgreSQL here)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


class IdleConnection(Generic[C]):
    """Hands out the idle connection (or a new one) and takes it back after a clean use; a use that raised closes
    its connection, since its state is unknown. Nested uses get connections of their own."""

    def __init__(self, connect: Callable[[], C]):
        self._connect = connect
        self._idle: C | None = None

    @contextmanager
    def use(self) -> Iterator[C]:
        conn, self._idle = self._idle, None
        if conn is None:
            conn = self._connect()
        clean = False
        try:
            yield conn
            clean = True
        finally:
            if clean and self._idle is None:
                self._idle = conn
            else:
                _close(conn)

    def close(self) -> None:
        conn, self._idle = self._idle, None
        if conn is not None:
            _close(conn)


def _close(conn: Closable) -> None:
    try:
        conn.close()
    except Exception:  # a connection the server dropped is closed already
        pass
