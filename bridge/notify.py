"""The systemd notify protocol: READY=1, STATUS=..., WATCHDOG=1, STOPPING=1 to $NOTIFY_SOCKET.

Hand-written on purpose: the protocol is one datagram of ``KEY=value`` lines to an AF_UNIX
socket, and there is no well-kept library for it — ``sdnotify`` on PyPI has had no release since
2017 and ``systemd-python`` needs libsystemd headers to build.  Everything is a no-op when
``$NOTIFY_SOCKET`` is unset (not started by systemd, or not ``Type=notify``).

With ``Type=notify`` and ``WatchdogSec=``, systemd sets ``$WATCHDOG_USEC``; the daemon must send
``WATCHDOG=1`` more often than that.  :func:`watchdog_interval` gives half of it, the interval
``sd_watchdog_enabled(3)`` recommends.
"""

from __future__ import annotations

import os
import socket
from typing import Mapping


class Notifier:
    """Sends notify messages to the socket named by ``$NOTIFY_SOCKET`` (or ``socket_path``).

    A path starting with ``@`` is in the abstract namespace.  Each message opens its own
    datagram socket (as ``sd_notify(3)`` does): nothing to keep open or reconnect.  Send
    failures return False instead of raising, so the daemon never dies of a notify problem;
    a broken socket shows up as a watchdog timeout, which systemd reports.
    """

    def __init__(self, socket_path: str | None = None, *, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.socket_path = socket_path if socket_path is not None else env.get("NOTIFY_SOCKET") or None

    @property
    def enabled(self) -> bool:
        return self.socket_path is not None

    def send(self, *lines: str) -> bool:
        """Send one datagram of ``KEY=value`` lines; False when disabled or sending failed."""
        if self.socket_path is None or not lines:
            return False
        address = self.socket_path
        if address.startswith("@"):
            address = "\0" + address[1:]
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(address)
                sock.sendall("\n".join(lines).encode("utf-8"))
        except OSError:
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *_status_line(status))

    def status(self, text: str) -> bool:
        return self.send(*_status_line(text))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *_status_line(status))


def _status_line(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    # One line per field: a newline inside STATUS would start a new (bogus) assignment.
    return ("STATUS=" + " ".join(text.split()),)


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``$WATCHDOG_USEC``); None when not watched.

    ``$WATCHDOG_PID``, when set, must name this process (else the watchdog is for another one).
    """
    env = os.environ if environ is None else environ
    usec_text = env.get("WATCHDOG_USEC")
    if not usec_text:
        return None
    pid_text = env.get("WATCHDOG_PID")
    if pid_text and pid_text != str(os.getpid()):
        return None
    try:
        usec = int(usec_text)
    except ValueError:
        return None
    return usec / 2 / 1_000_000 if usec > 0 else None


def notify(*lines: str) -> bool:
    """Send to ``$NOTIFY_SOCKET`` as it is now (``notify("READY=1", "STATUS=polling")``)."""
    return Notifier().send(*lines)
