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
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from instance import ROOT, ApiInstance

# Gives generated Idempotency-Key values a unique suffix (see hooks.py).
HOOKS = Path(__file__).resolve().parent / "hooks.py"

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="target/debug/mailing-api", help="mailing-api binary")
    parser.add_argument("--max-examples", type=int, default=25, help="test cases per operation")
    parser.add_argument("--seed", type=int, default=20261128, help="schemathesis seed")
    parser.add_argument("--keep-log", action="store_true", help="print where the api log is")
    parser.add_argument("extra", nargs="*", help="more schemathesis arguments, after --")
    args = parser.parse_args()

    schemathesis = Path(sys.executable).parent / "schemathesis"
    if not schemathesis.is_file():
        raise SystemExit(f"fuzz-api: no {schemathesis}; run it with the .venv python")

    failed = True
    output: list[str] = []
    try:
        with ApiInstance(
            Path(args.api),
            prefix="mailing_fuzz",
            fixtures=ROOT / "fixtures/dev.json",
            keep_log=args.keep_log,
            name="fuzz-api",
        ) as api:
            token = api.login()
            command = [
                str(schemathesis),
                "run",
                f"{api.base}/api/v1/openapi.json",
                "--url",
                api.base,
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
                # Logging out revokes the one token every request carries; its own tests
                # cover it.
                "--exclude-operation-id",
                "logout",
                *args.extra,
            ]
            shown = [
                part if not part.startswith("Authorization") else "Authorization: Bearer …"
                for part in command
            ]
            print("fuzz-api:", " ".join(shown), flush=True)
            started = time.monotonic()
            with subprocess.Popen(
                command,
                cwd=api.workdir,
                env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ) as run:
                for line in run.stdout:
                    sys.stdout.write(line)
                    output.append(line)
            print(f"fuzz-api: schemathesis took {time.monotonic() - started:.0f} s", flush=True)

            returncode = api.stop()
            panics = api.panics()
            for line in panics:
                print("fuzz-api: the api panicked:", line)
            failed = run.returncode != 0 or bool(panics) or returncode != 0
            if returncode != 0:
                print(f"fuzz-api: mailing-api exited with {returncode}")
            if failed:
                errors = api.errors()
                if errors:
                    print("fuzz-api: errors the api logged:")
                    print("\n".join(errors[-40:]))
        return 1 if failed else 0
    finally:
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
