"""The stage in a local folder (the embedded default)."""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.store import StageStore, StoredObject, Upload


class LocalStore(StageStore):
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    def uri(self, key: str) -> str:
        return str(self.root / key)

    def spool_path(self, key: str) -> Path:
        path = self.root / f"{key}.partial"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def publish(self, spool: Path, key: str) -> str:
        os.replace(spool, self.root / key)
        return _local_etag(self.root / key)

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

    def objects(self, prefix: str) -> Iterator[StoredObject]:
        base = self.root / prefix.rstrip("/")
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.suffix != ".partial":
                stat = path.stat()
                modified = datetime.fromtimestamp(stat.st_mtime, UTC)
                yield StoredObject(path.relative_to(self.root).as_posix(), stat.st_size, modified, _local_etag(path))

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            path = self.root / key
            path.unlink(missing_ok=True)
            for parent in path.parents:  # drop folders the deletion emptied, up to the root
                if parent == self.root or any(parent.iterdir()):
                    break
                parent.rmdir()

    def copy(self, source: str, key: str) -> str:
        spool = self.spool_path(key)
        shutil.copyfile(self.root / source, spool)
        return self.publish(spool, key)

    def incomplete_uploads(self, prefix: str) -> list[Upload]:
        base = self.root / prefix.rstrip("/")
        return (
            [
                Upload(p.relative_to(self.root).as_posix(), str(p), datetime.fromtimestamp(p.stat().st_mtime, UTC))
                for p in sorted(base.rglob("*.partial"))
            ]
            if base.is_dir()
            else []
        )

    def abort(self, upload: Upload) -> None:
        Path(upload.upload_id).unlink(missing_ok=True)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        path = self.root / key
        if not path.is_file():
            raise PipelineError(f"stage: {path} does not exist")
        yield path


def _local_etag(path: Path) -> str:
    """A local file's version: size and modification time (a rewrite changes it), cheaper than hashing."""
    stat = path.stat()
    return f"{stat.st_size:x}-{stat.st_mtime_ns:x}"
