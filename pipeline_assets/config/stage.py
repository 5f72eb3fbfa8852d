"""``stage:``: where staged files go and how long they stay."""

import warnings
from typing import Annotated, Literal, Self

from pydantic import BeforeValidator, Field, field_validator, model_validator

from pipeline_assets.config.base import _Model, _secret_ref
from pipeline_assets.config.durations import parse_duration
from pipeline_assets.core.errors import PipelineError

PathStrategy = Literal["unique", "fixed"]


def _cleanup_alias(value: object) -> object:
    """The seeds' ``cleanup_after_load: true|false``, as the names it is now spelled by (said once, as a warning)."""
    if isinstance(value, bool):
        name = "after_partition" if value else "never"
        warnings.warn(f"cleanup_after_load: {str(value).lower()} is now spelled {name!r}", UserWarning, stacklevel=2)
        return name
    return value


Cleanup = Annotated[Literal["never", "after_partition", "after_all"], BeforeValidator(_cleanup_alias)]


def duration(value: str) -> str:
    try:
        parse_duration(value)
    except PipelineError:
        raise ValueError("expected a number and a unit, like 30m, 24h or 7d") from None
    return value


class S3Config(_Model):
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = Field(default=None, description="${ENV_VAR}; omit to use the default AWS chain")
    secret_access_key: str | None = Field(default=None, description="${ENV_VAR}")

    encryption: Literal["none", "AES256", "aws:kms"] = Field(
        default="AES256", description="server-side encryption of every object written"
    )
    kms_key_id: str | None = Field(default=None, description="with aws:kms: the key id or ARN")

    _check_secrets = field_validator("access_key_id", "secret_access_key")(_secret_ref)

    @model_validator(mode="after")
    def _kms(self) -> Self:
        if self.encryption == "aws:kms" and not self.kms_key_id:
            raise ValueError("aws:kms encryption needs kms_key_id")
        return self

    def sse(self) -> dict[str, str]:
        """The S3 request arguments that encrypt an object as configured."""
        if self.encryption == "none":
            return {}
        return {
            "ServerSideEncryption": self.encryption,
            **({"SSEKMSKeyId": self.kms_key_id} if self.kms_key_id else {}),
        }


class StageConfig(_Model):
    """Where staged files go (``s3://bucket/prefix`` or a local folder) and how long they stay."""

    url: str = "stage"
    path_strategy: PathStrategy = Field(
        default="unique", description="unique: a folder per run; fixed: one per partition"
    )
    overwrite: bool = Field(default=False, description="fixed paths: replace a partition's files (else refuse)")
    cleanup_after_load: Cleanup = "never"
    retention_days: int | None = Field(default=None, gt=0, description="S3 lifecycle expiry for the stage prefix")
    orphan_grace: str = Field(default="24h", description="age past which an unclaimed staged file is an orphan")
    delete_orphans: bool = Field(default=False, description="let the orphan sensor delete what it finds")
    preflight: Literal["off", "warn", "strict"] = Field(
        default="warn", description="check the bucket's public-access block and default encryption before staging"
    )
    format: Literal["parquet", "csv"] = "parquet"
    target_file_mb: float = Field(default=128, gt=0, description="a new file is started past this size")
    compression: Literal["snappy", "zstd", "lz4", "none"] = "snappy"
    s3: S3Config = S3Config()

    _check_grace = field_validator("orphan_grace")(duration)

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    @property
    def target_bytes(self) -> int:
        return int(self.target_file_mb * 2**20)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if "://" in value and not value.startswith("s3://"):
            raise ValueError("use s3://bucket/prefix or a local folder")
        if value.startswith("s3://") and not value.removeprefix("s3://").strip("/"):
            raise ValueError("an s3:// stage needs a bucket name")
        return value.rstrip("/")


class StagePolicy(_Model):
    path_strategy: PathStrategy
    overwrite: bool
    cleanup_after_load: Cleanup
