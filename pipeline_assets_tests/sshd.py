"""A real SSH server for the tunnel tests: OpenSSH's ``sshd`` (Debian package openssh-server) on a free loopback
port, with its own host key, config and authorized key, as a bastion in front of the local PostgreSQL."""

import getpass
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


@dataclass
class SshServer:
    port: int
    user: str
    key_path: Path  # the client's private key, encrypted with ``passphrase``
    passphrase: str
    process: subprocess.Popen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sshd(workdir: Path, passphrase: str = "tunnel-test-passphrase", timeout: float = 20.0):
    if not Path(SSHD).exists() or not shutil.which("ssh-keygen"):
        raise RuntimeError("sshd is missing: apt-get install -y openssh-server")
    workdir.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / "host_key")], check=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-f", str(workdir / "client_key")], check=True
    )
    (workdir / "authorized_keys").write_text((workdir / "client_key.pub").read_text())
    port = _free_port()
    (workdir / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {workdir / 'host_key'}\nAuthorizedKeysFile {workdir / 'authorized_keys'}\n"
        f"PidFile {workdir / 'sshd.pid'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\nAllowTcpForwarding yes\nStrictModes no\nUsePAM no\n"
    )
    with open(workdir / "sshd.log", "wb") as log:
        process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(workdir / "sshd_config")], stdout=log, stderr=subprocess.STDOUT
        )
    server = SshServer(port, getpass.getuser(), workdir / "client_key", passphrase, process)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"sshd exited with {process.returncode}; see {workdir / 'sshd.log'}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not listen within {timeout}s; see {workdir / 'sshd.log'}") from None
                time.sleep(0.1)
        yield server
    finally:
        server.stop()
