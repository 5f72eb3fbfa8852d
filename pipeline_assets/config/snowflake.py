"""``connections.<name>.snowflake:``: what a Snowflake connection needs beyond host, user and database."""

from typing import Literal

from pydantic import Field

from pipeline_assets.config.base import _Model


class UnloadOptions(_Model):
    """How a Snowflake source unloads a partition into the stage (``COPY INTO 's3://…' FROM (SELECT …)``)."""

    include_query_id: bool = Field(default=False, description="INCLUDE_QUERY_ID = TRUE: the query id in every file name")
    max_file_mb: float = Field(default=16, gt=0, le=5120, description="MAX_FILE_SIZE of each unloaded file")


class SnowflakeOptions(_Model):
    account: str = Field(description="account identifier, e.g. myorg-myaccount")
    warehouse: str | None = Field(default=None, description="the virtual warehouse that runs COPY and the merges")
    role: str | None = None
    storage_integration: str | None = Field(
        default=None, description="storage integration that reads (and unloads into) the stage bucket; without one, the "
        "stage's own access keys are passed as CREDENTIALS")  # fmt: skip
    protocol: Literal["https", "http"] = Field(default="https", description="http only for a local test server")
    unload: UnloadOptions = UnloadOptions()
