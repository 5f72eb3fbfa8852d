"""What every part of the configuration shares: strictness, names, secret references."""

import re

from pydantic import BaseModel, ConfigDict

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# Fields that hold secrets: the loader leaves their ${VAR} unexpanded so the value is read from the
# environment only when a connection is opened (and Dagster shows the reference, never the value).
SECRET_FIELDS = frozenset({"password", "access_key_id", "secret_access_key", "private_key_password"})

# files: an S3 prefix or a folder other systems drop files into, read by the autoloader
SOURCE_KINDS = ("postgres", "mysql", "sqlite", "duckdb", "snowflake", "files")
WAREHOUSE_KINDS = ("postgres", "duckdb", "snowflake", "redshift")
# Kinds that read or write the stage themselves (COPY from / unload to S3), so the stage must be in S3.
STAGE_READING_KINDS = ("snowflake", "redshift")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret_ref(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not SECRET_REF.match(value):
        raise ValueError(
            "secrets are never written in the config file: set an environment variable and write ${VAR_NAME}"
        )
    return value
