"""Object stores behind the stage: a local folder or an S3 bucket, with the same small set of calls."""

import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from pipeline_assets.errors import PipelineError, first_line


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


class StageStore(ABC):
    """Keys are ``/``-separated paths below the stage root. A file becomes visible only once complete:
    it is written to a spool path and then published in one step (a rename, or one S3 upload)."""

    @abstractmethod
    def uri(self, key: str) -> str: ...

    @abstractmethod
    def spool_path(self, key: str) -> Path:
        """A local path to write ``key``'s content to before ``publish``."""

    @abstractmethod
    def publish(self, spool: Path, key: str) -> None: ...

    @abstractmethod
    def discard(self, spool: Path) -> None:
        """Drop a spool file that will not be published."""

    @abstractmethod
    def write_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def read_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    def list(self, prefix: str) -> Iterator[StoredObject]: ...

    @abstractmethod
    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """A local file holding ``key``'s content for as long as the context lasts."""


class LocalStore(StageStore):
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def spool_path(self, key: str) -> Path:
        path = self.root / f"{key}.partial"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def publish(self, spool: Path, key: str) -> None:
        os.replace(spool, self.root / key)

    def discard(self, spool: Path) -> None:
        spool.unlink(missing_ok=True)

    def write_bytes(self, key: str, data: bytes) -> None:
        spool = self.spool_path(key)
        spool.write_bytes(data)
        self.publish(spool, key)

    def read_bytes(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            raise PipelineError(f"stage: {self.uri(key)} does not exist") from None

    def list(self, prefix: str) -> Iterator[StoredObject]:
        base = self.root / prefix.rstrip("/")
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file():
                stat = path.stat()
                modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc)
                yield StoredObject(path.relative_to(self.root).as_posix(), stat.st_size, modified)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.root / key
        if not path.is_file():
            raise PipelineError(f"stage: {path} does not exist")
        yield path


class S3Store(StageStore):
    """An S3 prefix reached through a boto3 client (dagster-aws ``S3Resource`` makes it)."""

    def __init__(self, client, url: str, spool_dir: str | None = None):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.spool_dir = Path(spool_dir or tempfile.gettempdir())

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _error(self, action: str, key: str, exc: Exception) -> PipelineError:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        if code in ("NoSuchKey", "404"):
            return PipelineError(f"stage: {self.uri(key)} does not exist")
        return PipelineError(f"stage: cannot {action} {self.uri(key)}: {first_line(exc)}")

    def _call(self, action: str, key: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ClientError, BotoCoreError, S3UploadFailedError, S3TransferFailedError) as exc:
            raise self._error(action, key, exc) from None

    def spool_path(self, key: str) -> Path:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="pipeline_assets_", suffix="_" + key.rsplit("/", 1)[-1], dir=self.spool_dir)
        os.close(fd)
        return Path(name)

    def publish(self, spool: Path, key: str) -> None:
        try:
            self._call("upload", key, self.client.upload_file, str(spool), self.bucket, self._key(key))
        finally:
            spool.unlink(missing_ok=True)

    def discard(self, spool: Path) -> None:
        spool.unlink(missing_ok=True)

    def write_bytes(self, key: str, data: bytes) -> None:
        self._call("write", key, self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data)

    def read_bytes(self, key: str) -> bytes:
        response = self._call("read", key, self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        return response["Body"].read()

    def list(self, prefix: str) -> Iterator[StoredObject]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for item in page.get("Contents", []):
                    yield StoredObject(item["Key"][strip:], item["Size"], item["LastModified"])
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from None

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        spool = self.spool_path(key)
        try:
            self._call("download", key, self.client.download_file, self.bucket, self._key(key), str(spool))
            yield spool
        finally:
            spool.unlink(missing_ok=True)
