"""A real SMTP server for the e-mail tests (aiosmtpd): listens on 127.0.0.1:PORT and writes each
message it accepts, exactly as received, to DIR/<n>.eml (written under a temporary name, then
renamed, so a reader never sees half a message). Prints "ready" once listening; stops when its
standard input closes. Usage: sink.py PORT DIR"""

import os
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
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    sys.stdin.read()
    controller.stop()
