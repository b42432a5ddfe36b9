"""A real SMTP server for the e-mail tests (aiosmtpd): listens on 127.0.0.1:PORT and writes each
message it accepts, exactly as received, to DIR/<n>.eml (written under a temporary name, then
renamed, so a reader never sees half a message). Prints "ready" once listening; stops when its
standard input closes. Usage: sink.py PORT DIR [wrapper|starttls CERT KEY]: with TLS from the
first byte (port 465 style), or STARTTLS required before any mail, with that certificate."""

import logging
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(self.directory, f"{time.time_ns()}.eml")
        with open(name + ".tmp", "wb") as file:
            file.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name)
        return "250 2.0.0 Ok: queued"


if __name__ == "__main__":
    port, directory = int(sys.argv[1]), sys.argv[2]
    tls = {}
    if len(sys.argv) == 6:
        mode, cert, key = sys.argv[3:6]
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        if mode == "wrapper":
            tls = {"ssl_context": context}
        elif mode == "starttls":
            tls = {"tls_context": context, "require_starttls": True}
        else:
            sys.exit(f"unknown TLS mode {mode}")
        # A client that refuses the certificate is what one test wants: no traceback for it.
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port, **tls)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()
