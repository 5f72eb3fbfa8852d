"""An SSH tunnel through a bastion host, for warehouses in private subnets (``redshift.ssh_tunnel``)."""

from collections.abc import Iterator
from contextlib import contextmanager

import paramiko
from sshtunnel import BaseSSHTunnelForwarderError, SSHTunnelForwarder

from pipeline_assets.config import RedshiftConnection, secret
from pipeline_assets.core.errors import PipelineError, driver_error, first_line
from pipeline_assets.core.transience import Phase


class _Forwarder(SSHTunnelForwarder):
    """sshtunnel 0.4.0 gathers keys through ``paramiko.DSSKey``, which paramiko 4 removed: it gets our one key."""

    @staticmethod
    def _consolidate_auth(
        ssh_password: str | None = None, ssh_pkey: paramiko.PKey | None = None, **_: object
    ) -> tuple[str | None, list[paramiko.PKey | None]]:
        return ssh_password, [ssh_pkey]


@contextmanager
def endpoint(config: RedshiftConnection) -> Iterator[tuple[str, int]]:
    """The (host, port) to connect to for as long as the block lasts: the server itself, or the local end of a
    tunnel to it when the connection has ``ssh_tunnel`` (the server's host and port as the bastion sees them)."""
    tunnel = config.redshift.ssh_tunnel
    if tunnel is None:
        yield config.host, config.resolved_port
        return
    where = f"ssh tunnel {tunnel.user}@{tunnel.host}:{tunnel.port}"
    try:
        passphrase = secret(tunnel.private_key_password)
        password = passphrase.encode() if passphrase else None  # bytes for cryptography, whatever paramiko's hint says
        key = paramiko.PKey.from_path(tunnel.private_key_path, password=password)  # type: ignore[arg-type]
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise PipelineError(
            f"{where}: cannot read the private key {tunnel.private_key_path}: {first_line(exc)}"
        ) from None
    forwarder = _Forwarder(
        (tunnel.host, tunnel.port),
        ssh_username=tunnel.user,
        ssh_pkey=key,
        ssh_config_file=None,
        remote_bind_address=(config.host, config.resolved_port),
        local_bind_address=("127.0.0.1", 0),
        set_keepalive=30.0,
    )
    try:
        forwarder.start()
    except (BaseSSHTunnelForwarderError, paramiko.SSHException, OSError) as exc:
        raise driver_error(f"{where}: cannot open: {first_line(exc)}", exc, Phase.CONNECT) from None
    try:
        yield "127.0.0.1", forwarder.local_bind_port
    finally:
        forwarder.stop()
