"""A `mailing-api serve` of its own for a test that talks to the api over HTTP.

Creates a fresh PostgreSQL database (`<prefix>_<random>` on PG_HOST:PG_PORT as PG_USER,
127.0.0.1:5432 postgres by default), migrates it and optionally loads fixtures, starts the api
on a free port in the dev profile (the broker URL points at a closed port, so nothing is
published and nothing is left in RabbitMQ) and waits for /readyz?exclude=broker, as a load
balancer asks (mailing events wait in the outbox). On leaving the `with` block
the api is stopped, the database dropped and the working directory removed.

    with ApiInstance(Path("target/debug/mailing-api"), prefix="mailing_fuzz") as api:
        token = api.login("admin", api.admin_password)
        ...  # requests to api.base
        failed = bool(api.panics())

Used by run.py (schemathesis) and ../client-test/run.py (a generated client).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PG_HOST = os.environ.get("PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("PG_PORT", "5432")
PG_USER = os.environ.get("PG_USER", "postgres")
# The dev profile's admin password, unless MAILING_ADMIN_PASSWORD says otherwise.
DEV_ADMIN_PASSWORD = "12345"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psql_env() -> dict:
    env = dict(os.environ)
    env.update(PGHOST=PG_HOST, PGPORT=PG_PORT, PGUSER=PG_USER)
    return env


def request(url: str, body=None, timeout: float = 5.0):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.status, response.read()


class ApiInstance:
    """The api on a fresh database; see the module's description."""

    def __init__(
        self,
        api_bin: Path,
        *,
        prefix: str,
        fixtures: Path | None = None,
        admin_password: str = DEV_ADMIN_PASSWORD,
        keep_log: bool = False,
        name: str = "api",
    ):
        self.api_bin = Path(api_bin).resolve()
        self.fixtures = fixtures
        self.admin_password = admin_password
        self.keep_log = keep_log
        self.name = name
        self.database = f"{prefix}_{secrets.token_hex(4)}"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{prefix.replace('_', '-')}-"))
        self.log = self.workdir / "api.log"
        self.process: subprocess.Popen | None = None
        self.returncode: int | None = None
        self._created = False
        # Settings come from here alone, never from a developer's .env or shell.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILING_")}
        env.update(
            MAILING_PROFILE="dev",
            MAILING_LOG_FORMAT="text",
            MAILING_HTTP_ADDR=f"127.0.0.1:{self.port}",
            MAILING_DATABASE_URL=f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}",
            # Nothing listens there: mailing events stay in the outbox of the dropped database,
            # and no broker state is left behind.
            MAILING_AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2f",
            RUST_LOG=env.get("RUST_LOG", "info"),
        )
        if admin_password != DEV_ADMIN_PASSWORD:
            env["MAILING_ADMIN_PASSWORD"] = admin_password
        self.env = env

    def __enter__(self) -> "ApiInstance":
        if not self.api_bin.is_file():
            raise SystemExit(f"{self.name}: no {self.api_bin}; build it first (cargo build --bins)")
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        subprocess.run(["createdb", self.database], env=psql_env(), check=True)
        self._created = True
        steps = [[str(self.api_bin), "migrate"]]
        if self.fixtures is not None:
            steps.append([str(self.api_bin), "load-fixtures", str(self.fixtures)])
        for step in steps:
            done = subprocess.run(step, env=self.env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.stdout.write(done.stdout + done.stderr)
                raise SystemExit(f"{self.name}: preparing the database failed")
        with open(self.log, "wb") as log_file:
            self.process = subprocess.Popen(
                [str(self.api_bin), "serve"],
                env=self.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self, deadline_s: float = 60.0) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.stdout.write(self.log_text())
                raise SystemExit(
                    f"{self.name}: mailing-api exited with {self.process.returncode} at start"
                )
            try:
                status, _ = request(f"{self.base}/readyz?exclude=broker", timeout=1.0)
                if status == 200:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name}: mailing-api was not ready within {deadline_s:.0f} s")

    def login(self, username: str = "admin", password: str | None = None) -> str:
        """An access token, from POST /api/v1/auth/token."""
        _, body = request(
            f"{self.base}/api/v1/auth/token",
            {"username": username, "password": password or self.admin_password},
        )
        return json.loads(body)["access_token"]

    def stop(self) -> int | None:
        """Stops the api (SIGTERM, then SIGKILL after 35 s); its exit status."""
        api = self.process
        if api is None:
            return None
        if api.poll() is None:
            api.send_signal(signal.SIGTERM)
            try:
                api.wait(timeout=35)
            except subprocess.TimeoutExpired:
                api.kill()
                api.wait()
        self.returncode = api.returncode
        return self.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def panics(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if "panicked" in line]

    def errors(self) -> list[str]:
        return [
            line
            for line in self.log_text().splitlines()
            if " ERROR " in line or "panicked" in line
        ]

    def __exit__(self, *_) -> None:
        self.stop()
        if self._created:
            subprocess.run(
                ["dropdb", "--if-exists", "--force", self.database], env=psql_env(), check=False
            )
        if self.keep_log:
            print(f"{self.name}: api log kept at {self.log}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


__all__ = ["ApiInstance", "ROOT", "free_port", "psql_env", "request"]
