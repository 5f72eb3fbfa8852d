"""How this project reaches Snowflake, shared by the Snowflake source and warehouse: a dagster-snowflake
``SnowflakeResource`` for the session, and the clause that lets Snowflake itself read or write the stage bucket."""

from typing import TYPE_CHECKING

from pipeline_assets.config import SnowflakeConnection
from pipeline_assets.core.errors import PipelineError
from pipeline_assets.core.sql import string_literal
from pipeline_assets.core.store import StageStore

if TYPE_CHECKING:
    from dagster_snowflake import SnowflakeResource


def snowflake_resource(config: SnowflakeConnection, password: str | None) -> "SnowflakeResource":
    """dagster-snowflake's resource for ``config``: it owns the connector's session settings (imported on first use)."""
    from dagster_snowflake import SnowflakeResource

    options = config.snowflake
    extra: dict[str, str | int] = {"protocol": options.protocol}
    if config.host:
        extra.update(host=config.host, port=config.resolved_port)
    return SnowflakeResource(
        account=options.account,
        user=config.user,
        password=password,
        database=config.database,
        warehouse=options.warehouse,
        role=options.role,
        login_timeout=config.connect_timeout,
        network_timeout=config.connect_timeout * 6,
        additional_snowflake_connection_args=extra,
    )


def stage_access(name: str, config: SnowflakeConnection, store: StageStore) -> tuple[str, list[str]]:
    """The ``STORAGE_INTEGRATION`` (or ``CREDENTIALS``) clause for the stage bucket, and the secrets it holds
    (to scrub from errors: the clause is never logged)."""
    if config.snowflake.storage_integration:
        return f"STORAGE_INTEGRATION = {config.snowflake.storage_integration}", []
    keys = getattr(store, "access_keys", None)
    if not keys:
        raise PipelineError(
            f"{name!r}: Snowflake needs snowflake.storage_integration or the stage's access keys to reach the stage"
        )
    key_id, secret = (string_literal(k, backslash_escapes=True) for k in keys)
    return f"CREDENTIALS = (AWS_KEY_ID = {key_id} AWS_SECRET_KEY = {secret})", list(keys)


def unload_encryption(store: StageStore) -> str:
    """The ``ENCRYPTION`` clause that makes Snowflake write unloaded files as the stage writes its own (SSE-S3 or
    SSE-KMS), or nothing when the stage is configured without encryption."""
    sse = getattr(store, "sse", {})
    if sse.get("ServerSideEncryption") == "aws:kms":
        key = string_literal(sse["SSEKMSKeyId"], backslash_escapes=True)
        return f"ENCRYPTION = (TYPE = 'AWS_SSE_KMS' KMS_KEY_ID = {key})"
    if sse.get("ServerSideEncryption") == "AES256":
        return "ENCRYPTION = (TYPE = 'AWS_SSE_S3')"
    return ""
