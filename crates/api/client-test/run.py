#!/usr/bin/env python3
"""Generates a Python client from the api's OpenAPI document and runs an integrator's flow
through it against a running api.

Starts `mailing-api serve` on a fresh PostgreSQL database and a free port (see
../fuzz/instance.py), reads the document it serves, generates a client with the pinned
openapi-python-client into OUT (a build directory, never the repository), and runs flow.py,
which uses only the client's typed functions and models: it logs in, creates an operator, a
client and a mailing, reads the mailing back, changes it with a merge patch, lists mailings,
reads its statistics, and checks what the errors say (a 422 naming both bad fields of a
client, a 409, a 401 with its header, a 404). The generator must not warn: a warning means
part of the document did not make it into the client.

    .venv/bin/python crates/api/client-test/run.py --api target/debug/mailing-api \
        --out target/generated-client

Exits non-zero when generating or any step fails.
"""

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from instance import ApiInstance, request  # noqa: E402

PACKAGE = "mailing_api_client"
NAME = "generated-client"


def generate(document: bytes, out: Path) -> Path:
    """Writes the client package under `out`; returns the directory to import it from."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    spec = out / "openapi.json"
    spec.write_bytes(document)
    generator = Path(sys.executable).parent / "openapi-python-client"
    if not generator.is_file():
        raise SystemExit(f"{NAME}: no {generator}; run it with the .venv python")
    # The generator formats its output with the ruff installed beside it.
    env = dict(os.environ, PATH=f"{generator.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(out / PACKAGE),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    output = done.stdout + done.stderr
    sys.stdout.write(output)
    if done.returncode != 0:
        raise SystemExit(f"{NAME}: openapi-python-client failed")
    if "Warning" in output or "Unable to" in output:
        raise SystemExit(f"{NAME}: openapi-python-client warned about the document")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="target/debug/mailing-api", help="mailing-api binary")
    parser.add_argument(
        "--out", default="target/generated-client", help="where the client is generated"
    )
    parser.add_argument("--keep-log", action="store_true", help="print where the api log is")
    args = parser.parse_args()

    started = time.monotonic()
    passed, failed = 0, 1
    try:
        password = secrets.token_urlsafe(18)
        with ApiInstance(
            Path(args.api),
            prefix="mailing_client",
            admin_password=password,
            keep_log=args.keep_log,
            name=NAME,
        ) as api:
            _, document = request(f"{api.base}/api/v1/openapi.json")
            out = generate(document, Path(args.out).resolve())
            sys.path.insert(0, str(out))
            import flow  # noqa: PLC0415 - it imports the client generated just now

            passed, failed = flow.run(api.base, password, NAME)
            if api.stop() != 0:
                print(f"{NAME}: mailing-api exited with {api.returncode}")
                failed += 1
            for line in api.panics():
                print(f"{NAME}: the api panicked: {line}")
                failed += 1
    finally:
        print(f"{NAME}: took {time.monotonic() - started:.0f} s")
        print(f"{NAME}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
