"""An SMTP server for the daily report's tests: aiosmtpd, which writes every message it takes
to a directory (NNNN.eml as received, and NNNN.json with the envelope and the message as
Python's e-mail parser reads it: subject, Message-ID, the parts' types, the text and the HTML),
and which can refuse the first messages with a temporary error or require authentication.

    .venv/bin/python crates/reports/smtp-sink/sink.py --port 2525 --dir /tmp/mail \
        [--refuse 2] [--user reports --password secret]

It prints "ready" once it listens, and runs until it is killed.
"""

import argparse
import asyncio
import email
import email.policy
import json
import pathlib
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory: pathlib.Path, refuse: int):
        self.directory = directory
        self.refuse = refuse
        self.taken = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        self.taken += 1
        stem = self.directory / f"{self.taken:04}"
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        stem.with_suffix(".json").write_text(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "authenticated_as": session.auth_data,
                    "subject": message["Subject"],
                    "message_id": message["Message-ID"],
                    "from": message["From"],
                    "to": message["To"],
                    "content_type": message.get_content_type(),
                    "parts": [part.get_content_type() for part in message.walk()],
                    "text": text.get_content() if text else None,
                    "html": html.get_content() if html else None,
                }
            )
        )
        # The .eml last: a test that sees it finds the envelope beside it.
        partial = stem.with_suffix(".part")
        partial.write_bytes(raw)
        partial.rename(stem.with_suffix(".eml"))
        return "250 2.0.0 Message accepted"


def authenticator(user: str, password: str):
    def check(server, session, envelope, mechanism, auth_data):
        if (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        ):
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=pathlib.Path, required=True)
    parser.add_argument("--refuse", type=int, default=0)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    options = {}
    if args.user:
        options = {
            "authenticator": authenticator(args.user, args.password or ""),
            "auth_required": True,
            # The tests speak plain SMTP on the loopback interface.
            "auth_require_tls": False,
        }
    controller = Controller(
        Sink(args.dir, args.refuse), hostname=args.host, port=args.port, **options
    )
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
