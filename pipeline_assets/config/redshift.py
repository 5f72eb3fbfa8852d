"""``connections.<name>.redshift:``: what only a Redshift warehouse needs: the IAM role its COPY assumes to read
the stage, TLS, and an optional SSH tunnel through a bastion host to a cluster in a private subnet."""

import re
from typing import Literal

from pydantic import Field, field_validator

from pipeline_assets.config.base import _Model, _secret_ref

IAM_ROLE_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$"


class SshTunnel(_Model):
    """A bastion host the connection is forwarded through (the cluster's host and port as seen from the bastion)."""

    host: str
    port: int = Field(default=22, gt=0, lt=65536)
    user: str
    private_key_path: str = Field(description="the private key file (OpenSSH or PEM)")
    private_key_password: str | None = Field(default=None, description="${ENV_VAR} holding the key's passphrase")

    _check_password = field_validator("private_key_password")(_secret_ref)


class RedshiftOptions(_Model):
    """Redshift-only settings of a ``kind: redshift`` connection."""

    iam_role: str = Field(description="ARN of the role COPY assumes to read the stage bucket")
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "require"
    ssh_tunnel: SshTunnel | None = None

    @field_validator("iam_role")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not re.match(IAM_ROLE_PATTERN, value):
            raise ValueError("expected an IAM role ARN like arn:aws:iam::123456789012:role/redshift-copy")
        return value
