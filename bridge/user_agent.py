"""The User-Agent every remote request carries: ``casavi-bridge/<version> (pid <pid>)``.

The process id tells a server's request log (and the sandboxes' ``/_sandbox/requests``) which
bridge process sent a request: with a fleet, which worker worked a tenant when."""

from __future__ import annotations

import os

from bridge import __version__


def user_agent() -> str:
    return f"casavi-bridge/{__version__} (pid {os.getpid()})"
