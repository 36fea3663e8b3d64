"""Real PostgreSQL and Redis servers and a moto S3/KMS/ElastiCache endpoint on loopback, for the tests and
the restore drill. Everything lives in one temporary directory; nothing listens beyond 127.0.0.1.

PostgreSQL refuses to run as root (CI runs as root): then the data directory belongs to the `postgres`
system user (Debian's package creates it; `nobody` otherwise) and initdb and the server run as that user.
"""

import glob
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server's bin directory: Debian keeps it off PATH in /usr/lib/postgresql/<v>/bin."""

    def version(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def missing_servers() -> list[str]:
    missing = []
    if postgres_bin_dir() is None:
        missing.append("PostgreSQL server (initdb, pg_ctl; Debian package postgresql)")
    if shutil.which("redis-server") is None:
        missing.append("redis-server (Debian package redis-server)")
    return missing


def _service_user() -> str | None:
    """None when not root; else the unprivileged user the servers run as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


@dataclass
class Postgres:
    """A throwaway cluster: trust authentication on 127.0.0.1 and a socket in its own directory.

    Its directory is its own (the service user must be able to reach it, which a caller's 0700 temporary
    directory would not allow); stop() removes it.
    """

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="platform-backup-pg-")))
    port: int = field(default_factory=free_port)
    user: str | None = field(default_factory=_service_user)

    @property
    def bin_dir(self) -> Path:
        found = postgres_bin_dir()
        if found is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        return found

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    def _run(self, *args: str) -> None:
        result = subprocess.run(args, check=False, capture_output=True, text=True, user=self.user, cwd=self.root)
        if result.returncode != 0:
            log = self.root / "postgres.log"
            server_log = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()} {server_log}")

    def start(self) -> "Postgres":
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # the service user must reach the data directory below
        if self.user:
            shutil.chown(self.root, self.user)
        self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "postgres.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def env(self) -> dict[str, str]:
        """libpq's variables for this server, and its bin directory first on PATH (pg_dump of its version)."""
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": "postgres",
            "PGPASSWORD": "not-used-trust-auth",
            "PGSSLMODE": "disable",
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }


@dataclass
class Redis:
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Redis":
        self.root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                "redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.root),
                "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--protected-mode", "yes",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None


@dataclass
class Moto:
    """moto's server with a KMS key and a bucket whose default encryption is SSE-KMS with that key."""

    region: str = "eu-west-1"
    bucket: str = "platform-backups-drill"
    port: int = field(default_factory=free_port)
    server: Any = None
    key_arn: str = ""

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Moto":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.key_arn = self.client("kms").create_key(Description="backup drill")["KeyMetadata"]["Arn"]
        s3 = self.client("s3")
        s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
        s3.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": self.key_arn,
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "BACKUP_BUCKET": self.bucket,
            "BACKUP_KMS_KEY_ARN": self.key_arn,
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
