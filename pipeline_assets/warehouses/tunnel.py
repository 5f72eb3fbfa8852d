"""An SSH tunnel through a bastion host, for warehouses in private subnets (``redshift.ssh_tunnel``)."""

from collections.abc import Iterator
from contextlib import contextmanager

import paramiko
from sshtunnel import BaseSSHTunnelForwarderError, SSHTunnelForwarder

from pipeline_assets.config import ConnectionConfig, secret
from pipeline_assets.errors import PipelineError, driver_error, first_line


@contextmanager
def endpoint(config: ConnectionConfig) -> Iterator[tuple[str, int]]:
    """The (host, port) to connect to for as long as the block lasts: the server itself, or the local end of a
    tunnel to it when the connection has ``ssh_tunnel`` (the server's host and port as the bastion sees them)."""
    tunnel = config.redshift.ssh_tunnel if config.redshift else None
    if tunnel is None:
        yield config.host, config.resolved_port
        return
    where = f"ssh tunnel {tunnel.user}@{tunnel.host}:{tunnel.port}"
    try:
        # paramiko loads the key itself: sshtunnel's own loader still tries DSA keys, which paramiko 4 removed
        key = paramiko.PKey.from_path(tunnel.private_key_path, passphrase=secret(tunnel.private_key_password))
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise PipelineError(f"{where}: cannot read the private key {tunnel.private_key_path}: {first_line(exc)}") from None
    forwarder = SSHTunnelForwarder(
        (tunnel.host, tunnel.port), ssh_username=tunnel.user, ssh_pkey=key, ssh_config_file=None, allow_agent=False,
        host_pkey_directories=[], remote_bind_address=(config.host, config.resolved_port),
        local_bind_address=("127.0.0.1", 0), set_keepalive=30.0, mute_exceptions=True,
    )  # fmt: skip
    try:
        forwarder.start()
    except (BaseSSHTunnelForwarderError, paramiko.SSHException, OSError) as exc:
        raise driver_error(f"{where}: cannot open: {first_line(exc)}", exc) from None
    try:
        yield "127.0.0.1", forwarder.local_bind_port
    finally:
        forwarder.stop()
