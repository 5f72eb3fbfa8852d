"""Object stores behind the stage: a local folder or an S3 bucket, with the same small set of calls."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime
    etag: str = ""


@dataclass(frozen=True)
class Upload:
    """A write that never finished: an S3 multipart upload, or a local ``.partial`` spool file."""

    key: str
    upload_id: str
    started: datetime


class StageStore(ABC):
    """Keys are ``/``-separated paths below the stage root. A file becomes visible only once complete:
    it is written to a spool path and then published in one step (a rename, or one S3 upload)."""

    @abstractmethod
    def uri(self, key: str) -> str: ...

    @abstractmethod
    def spool_path(self, key: str) -> Path:
        """A local path to write ``key``'s content to before ``publish``."""

    @abstractmethod
    def publish(self, spool: Path, key: str) -> str:
        """Make ``spool``'s content visible as ``key``; return its ETag (a version identifier)."""

    @abstractmethod
    def discard(self, spool: Path) -> None:
        """Drop a spool file that will not be published."""

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def objects(self, prefix: str) -> Iterator[StoredObject]:
        """Every complete object below ``prefix``."""

    @abstractmethod
    def delete(self, keys: list[str]) -> None: ...

    @abstractmethod
    def copy(self, source: str, key: str) -> str:
        """Copy ``source`` to ``key`` inside the store; return the new ETag."""

    @abstractmethod
    def incomplete_uploads(self, prefix: str) -> list[Upload]: ...

    @abstractmethod
    def abort(self, upload: Upload) -> None: ...

    def security_problems(self) -> list[str]:
        """What the store lacks of the protections a stage of production data needs (nothing, for a local folder)."""
        return []

    @abstractmethod
    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A local file holding ``key``'s content for as long as the context lasts."""
