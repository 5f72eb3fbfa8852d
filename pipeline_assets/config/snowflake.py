"""``connections.<name>.snowflake:``: what a Snowflake connection needs beyond host, user and database."""

import re
from typing import Literal

from pydantic import Field, field_validator

from pipeline_assets.config.base import NAME_PATTERN, _Model


class UnloadOptions(_Model):
    """How a Snowflake source unloads a partition into the stage (``COPY INTO 's3://…' FROM (SELECT …)``)."""

    include_query_id: bool = Field(
        default=False, description="INCLUDE_QUERY_ID = TRUE: the query id in every file name"
    )
    max_file_mb: float = Field(default=16, gt=0, le=5120, description="MAX_FILE_SIZE of each unloaded file")


class SnowflakeOptions(_Model):
    account: str = Field(description="account identifier, e.g. myorg-myaccount")
    warehouse: str | None = Field(default=None, description="the virtual warehouse that runs COPY and the merges")
    role: str | None = None
    storage_integration: str | None = Field(
        default=None,
        description="storage integration that reads (and unloads into) the stage bucket; without one, the "
        "stage's own access keys are passed as CREDENTIALS",
    )
    protocol: Literal["https", "http"] = Field(default="https", description="http only for a local test server")
    unload: UnloadOptions = UnloadOptions()

    @field_validator("storage_integration")
    @classmethod
    def _integration(cls, value: str | None) -> str | None:
        if value is not None and not re.match(NAME_PATTERN, value):  # it is written into COPY as a bare identifier
            raise ValueError("a storage integration name is letters, digits and _")
        return value
