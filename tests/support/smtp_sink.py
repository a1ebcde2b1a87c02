#!/usr/bin/env python3
"""A real SMTP server for resetgate's tests, built on aiosmtpd (tests/requirements.txt, installed by
scripts/test into target/test-venv).

It listens on 127.0.0.1, prints one ready line (`smtp_sink ready port=N`) to stdout once it
accepts connections, and appends every message it accepts to a JSON-lines file, one line per
message, flushed and fsynced before the server answers 250, so a test that has seen the 250 (or
the outbox row marked sent) finds the message in the file.

Test behaviours, each off unless asked for:
  --auth-user/--auth-password  require AUTH (PLAIN or LOGIN) before MAIL; AUTH is allowed
                               without TLS so the plain-text test can run.
  --starttls-cert/--starttls-key  offer STARTTLS and require it before any mail command.
  --tls-cert/--tls-key         implicit TLS (smtps): TLS from the first byte.
  always: a recipient containing "reject" is refused with 550 (a permanent failure).
"""

import argparse
import asyncio
import datetime
import json
import os
import ssl
import sys
import warnings

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError as e:  # The Rust helper looks for this line to explain what to install.
    print(f"smtp_sink: cannot import aiosmtpd ({e}); run ./scripts/test, which installs "
          "tests/requirements.txt into target/test-venv", file=sys.stderr)
    sys.exit(3)

# aiosmtpd warns about AUTH without TLS; the plain-text AUTH test does that on purpose.
warnings.filterwarnings("ignore", category=UserWarning, module="aiosmtpd")


class Sink:
    def __init__(self, out_path):
        self.out_path = out_path

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "reject" in address.lower():
            return "550 5.1.1 Recipient rejected by the test sink"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", errors="replace"),
            "received_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "auth_login": _login_name(session),
            # session.ssl covers STARTTLS only; the transport also knows about implicit TLS.
            "tls": server.transport.get_extra_info("ssl_object") is not None,
        }
        with open(self.out_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())
        return "250 Message accepted for delivery"


def _login_name(session):
    data = getattr(session, "auth_data", None)
    if isinstance(data, LoginPassword):
        return data.login.decode("utf-8", errors="replace")
    return None


def _authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return check


def _tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--out", required=True, help="JSON-lines file to append messages to")
    p.add_argument("--auth-user")
    p.add_argument("--auth-password")
    p.add_argument("--starttls-cert")
    p.add_argument("--starttls-key")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    args = p.parse_args()

    handler = Sink(args.out)
    starttls = _tls_context(args.starttls_cert, args.starttls_key) if args.starttls_cert else None
    implicit = _tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    auth = args.auth_user is not None

    def factory():
        return SMTP(
            handler,
            hostname="smtp-sink.test",
            tls_context=starttls,
            require_starttls=starttls is not None,
            authenticator=_authenticator(args.auth_user, args.auth_password) if auth else None,
            auth_required=auth,
            # The plain-text AUTH test needs AUTH without TLS; the TLS tests get TLS anyway.
            auth_require_tls=False,
            decode_data=False,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=args.port, ssl=implicit)
    port = server.sockets[0].getsockname()[1]
    print(f"smtp_sink ready port={port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
