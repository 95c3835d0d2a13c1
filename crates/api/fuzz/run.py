#!/usr/bin/env python3
"""Fuzzes the running API with schemathesis against its own OpenAPI document.

Creates a fresh PostgreSQL database, starts `mailing-api serve` on a free port against it
(the dev profile applies the migrations), loads the dev fixtures so that ids point at
records, logs in as the dev admin and runs `schemathesis run` with the bearer token. Every
response must be no 5xx and match the document (status code, content type, headers, body
schema), and the api must not panic. The api is stopped and the database dropped at the end,
whatever happened.

    python3 crates/api/fuzz/run.py --api target/debug/mailing-api [--max-examples N]
        [--seed N] [-- extra schemathesis arguments]

Exits non-zero when schemathesis reports a failure or the api logged a panic.
"""

import argparse
import json
import os
import re
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
# The checks every response must pass: no 5xx; status, content type, headers and body as
# documented; requests the document rules out refused; a 405 with `Allow` for other methods;
# no operation reachable without the token; deleted records gone and created ones readable.
# Left out: positive_data_acceptance, which takes every request the document allows for one the
# API must accept, while rules no schema can state (end_at after start_at, an existing
# operator, a unique phone number, an IANA zone name) rightly refuse many of them with a 422.
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
]


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


def wait_ready(base: str, api: subprocess.Popen, log: Path, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if api.poll() is not None:
            sys.stdout.write(log.read_text(errors="replace"))
            raise SystemExit(f"fuzz-api: mailing-api exited with {api.returncode} at start")
        try:
            status, _ = request(f"{base}/readyz", timeout=1.0)
            if status == 200:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"fuzz-api: mailing-api was not ready within {deadline_s:.0f} s")


def stop(api: subprocess.Popen) -> None:
    if api.poll() is not None:
        return
    api.send_signal(signal.SIGTERM)
    try:
        api.wait(timeout=35)
    except subprocess.TimeoutExpired:
        api.kill()
        api.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="target/debug/mailing-api", help="mailing-api binary")
    parser.add_argument("--max-examples", type=int, default=25, help="test cases per operation")
    parser.add_argument("--seed", type=int, default=20261128, help="schemathesis seed")
    parser.add_argument("--keep-log", action="store_true", help="print where the api log is")
    parser.add_argument("extra", nargs="*", help="more schemathesis arguments, after --")
    args = parser.parse_args()

    api_bin = Path(args.api).resolve()
    schemathesis = Path(sys.executable).parent / "schemathesis"
    if not api_bin.is_file():
        raise SystemExit(f"fuzz-api: no {api_bin}; build it first (cargo build --bins)")
    if not schemathesis.is_file():
        raise SystemExit(f"fuzz-api: no {schemathesis}; run it with the .venv python")

    database = f"mailing_fuzz_{secrets.token_hex(4)}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="mailing-fuzz-"))
    log = workdir / "api.log"
    # Settings come from here alone, never from a developer's .env or shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILING_")}
    env.update(
        MAILING_PROFILE="dev",
        MAILING_LOG_FORMAT="text",
        MAILING_HTTP_ADDR=f"127.0.0.1:{port}",
        MAILING_DATABASE_URL=f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}",
        # Nothing listens there: mailing events stay in the outbox of the dropped database,
        # and no broker state is left behind.
        MAILING_AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2f",
        RUST_LOG=env.get("RUST_LOG", "info"),
    )

    subprocess.run(["createdb", database], env=psql_env(), check=True)
    api = None
    failed = True
    output: list[str] = []
    try:
        fixtures = subprocess.run(
            [str(api_bin), "migrate"], env=env, capture_output=True, text=True
        )
        if fixtures.returncode == 0:
            fixtures = subprocess.run(
                [str(api_bin), "load-fixtures", str(ROOT / "fixtures/dev.json")],
                env=env,
                capture_output=True,
                text=True,
            )
        if fixtures.returncode != 0:
            sys.stdout.write(fixtures.stdout + fixtures.stderr)
            raise SystemExit("fuzz-api: preparing the database failed")

        with open(log, "wb") as log_file:
            api = subprocess.Popen(
                [str(api_bin), "serve"], env=env, stdout=log_file, stderr=subprocess.STDOUT
            )
        wait_ready(base, api, log)
        _, body = request(
            f"{base}/api/v1/auth/token", {"username": "admin", "password": "12345"}
        )
        token = json.loads(body)["access_token"]

        command = [
            str(schemathesis),
            "run",
            f"{base}/api/v1/openapi.json",
            "--url",
            base,
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(args.max_examples),
            "--seed",
            str(args.seed),
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
            *args.extra,
        ]
        shown = [part if not part.startswith("Authorization") else "Authorization: Bearer …"
                 for part in command]
        print("fuzz-api:", " ".join(shown), flush=True)
        started = time.monotonic()
        with subprocess.Popen(
            command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as run:
            for line in run.stdout:
                sys.stdout.write(line)
                output.append(line)
        print(f"fuzz-api: schemathesis took {time.monotonic() - started:.0f} s", flush=True)

        stop(api)
        text = log.read_text(errors="replace")
        panics = [line for line in text.splitlines() if "panicked" in line]
        for line in panics:
            print("fuzz-api: the api panicked:", line)
        failed = run.returncode != 0 or bool(panics) or api.returncode != 0
        if api.returncode != 0:
            print(f"fuzz-api: mailing-api exited with {api.returncode}")
        if failed:
            errors = [line for line in text.splitlines() if " ERROR " in line or "panicked" in line]
            if errors:
                print("fuzz-api: errors the api logged:")
                print("\n".join(errors[-40:]))
        return 1 if failed else 0
    finally:
        if api is not None:
            stop(api)
        subprocess.run(
            ["dropdb", "--if-exists", "--force", database], env=psql_env(), check=False
        )
        if args.keep_log:
            print(f"fuzz-api: api log kept at {log}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"fuzz-api: {'FAILED' if failed else 'passed'}")
        # schemathesis closes on "N generated, N passed" or "N generated, N found N unique
        # failures"; this line says it plainly for whoever reads the end of `make test`.
        summary = "".join(output)
        generated = re.findall(r"(\d+) generated", summary)
        failures = re.findall(r"found (\d+) unique failures", summary)
        count = int(failures[-1]) if failures else 0
        passed = (int(generated[-1]) if generated else 0) - count
        if failed and count == 0:
            count = 1
        print(f"fuzz-api: {passed} passed, {count} failed", flush=True)


if __name__ == "__main__":
    sys.exit(main())
