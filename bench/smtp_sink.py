"""The emails benchmark's SMTP sink: aiosmtpd on 127.0.0.1 in its own process.

A mail server is never inside the worker; in the same process its event loop would
compete with the senders for the GIL. It accepts every message and appends its
Message-ID to a log file, one line per message received, which the benchmark reads back
to check that every email arrived exactly once.

Usage: ``python bench/smtp_sink.py LOG_FILE`` prints ``ready PORT`` once listening and
serves until SIGTERM (or SIGINT).
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys

from aiosmtpd.controller import Controller

# The Message-ID header of the raw message: no parsing of the whole message, which
# would make the sink slower than the senders it measures.
MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


class LoggingSink:
    def __init__(self, log) -> None:
        self.log = log

    async def handle_DATA(self, server, session, envelope) -> str:
        head = envelope.original_content.split(b"\r\n\r\n", 1)[0]
        found = MESSAGE_ID.search(head)
        self.log.write((found.group(1) if found else b"<none>") + b"\n")
        self.log.flush()  # written before the answer: what was acknowledged is logged
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(path: str) -> None:
    loop = asyncio.new_event_loop()
    with open(path, "ab") as log:
        port = _free_port()
        controller = Controller(LoggingSink(log), hostname="127.0.0.1", port=port, loop=loop)
        controller.start()
        print(f"ready {port}", flush=True)
        done = asyncio.new_event_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            done.add_signal_handler(sig, stop.set)
        try:
            done.run_until_complete(stop.wait())
        finally:
            controller.stop()


if __name__ == "__main__":
    main(sys.argv[1])
