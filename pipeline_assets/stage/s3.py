"""The stage in an S3 bucket, through a boto3 client."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from boto3.exceptions import S3TransferFailedError, S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from pipeline_assets.core.errors import PipelineError, driver_error, first_line
from pipeline_assets.core.store import StageStore, StoredObject, Upload
from pipeline_assets.core.transience import Phase


class S3Store(StageStore):
    """An S3 prefix reached through a boto3 client (dagster-aws ``S3Resource`` makes it)."""

    def __init__(
        self,
        client,
        url: str,
        spool_dir: str | None = None,
        sse: dict[str, str] | None = None,
        access_keys: tuple[str, str] | None = None,
    ):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.spool_dir = Path(spool_dir or tempfile.gettempdir())
        self.sse = sse or {}  # server-side encryption arguments for every object written
        # the configured keys, for a warehouse that reads the stage itself without a storage integration
        self.access_keys = access_keys

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def _error(self, action: str, key: str, exc: Exception) -> PipelineError:
        code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
        if code in ("NoSuchKey", "404"):
            return PipelineError(f"stage: {self.uri(key)} does not exist")
        return driver_error(f"stage: cannot {action} {self.uri(key)}: {first_line(exc)}", exc, Phase.WORK)

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

    def publish(self, spool: Path, key: str) -> str:
        try:
            self._call(
                "upload", key, self.client.upload_file, str(spool), self.bucket, self._key(key), ExtraArgs=self.sse
            )
        finally:
            spool.unlink(missing_ok=True)
        return self._call("read", key, self.client.head_object, Bucket=self.bucket, Key=self._key(key))["ETag"].strip(
            '"'
        )

    def discard(self, spool: Path) -> None:
        spool.unlink(missing_ok=True)

    def write_bytes(self, key: str, data: bytes) -> None:
        self._call("write", key, self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data, **self.sse)

    def read_bytes(self, key: str) -> bytes:
        response = self._call("read", key, self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        return response["Body"].read()

    def objects(self, prefix: str) -> Iterator[StoredObject]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix)
            ):
                for item in page.get("Contents", []):
                    yield StoredObject(item["Key"][strip:], item["Size"], item["LastModified"], item["ETag"].strip('"'))
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", prefix, exc) from None

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            chunk = keys[start : start + 1000]
            objects = [{"Key": self._key(k)} for k in chunk]
            response = self._call(
                "delete",
                chunk[0],
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": objects, "Quiet": True},
            )
            if response.get("Errors"):
                error = response["Errors"][0]
                raise PipelineError(f"stage: cannot delete s3://{self.bucket}/{error['Key']}: {error.get('Code')}")

    def copy(self, source: str, key: str) -> str:
        source_ref = {"Bucket": self.bucket, "Key": self._key(source)}
        response = self._call(
            "copy",
            key,
            self.client.copy_object,
            Bucket=self.bucket,
            Key=self._key(key),
            CopySource=source_ref,
            **self.sse,
        )
        return response["CopyObjectResult"]["ETag"].strip('"')

    def incomplete_uploads(self, prefix: str) -> list[Upload]:
        strip = len(self.prefix) + 1 if self.prefix else 0
        uploads = []
        try:
            for page in self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix)
            ):
                uploads += [Upload(u["Key"][strip:], u["UploadId"], u["Initiated"]) for u in page.get("Uploads", [])]
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list uploads under", prefix, exc) from None
        return uploads

    def abort(self, upload: Upload) -> None:
        self._call(
            "abort upload",
            upload.key,
            self.client.abort_multipart_upload,
            Bucket=self.bucket,
            Key=self._key(upload.key),
            UploadId=upload.upload_id,
        )

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        spool = self.spool_path(key)
        try:
            self._call("download", key, self.client.download_file, self.bucket, self._key(key), str(spool))
            yield spool
        finally:
            spool.unlink(missing_ok=True)

    def security_problems(self) -> list[str]:
        """What the bucket lacks of a public-access block, default encryption and versioning (or cannot be read)."""
        problems = []
        try:
            block = self.client.get_public_access_block(Bucket=self.bucket)["PublicAccessBlockConfiguration"]
            if not all(
                block.get(flag)
                for flag in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            ):
                problems.append("its public-access block is not complete")
        except ClientError as exc:
            problems.append(f"its public-access block cannot be read ({exc.response.get('Error', {}).get('Code')})")
        try:
            self.client.get_bucket_encryption(Bucket=self.bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            problems.append(
                "it has no default encryption"
                if code == "ServerSideEncryptionConfigurationNotFoundError"
                else f"its default encryption cannot be read ({code})"
            )
        try:
            if self.client.get_bucket_versioning(Bucket=self.bucket).get("Status") != "Enabled":
                problems.append("its versioning is off (a staged file deleted or overwritten by mistake is gone)")
        except ClientError as exc:
            problems.append(f"its versioning cannot be read ({exc.response.get('Error', {}).get('Code')})")
        return problems
