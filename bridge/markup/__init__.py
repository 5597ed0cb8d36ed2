"""Markup shared by the connectors: the text policy for each direction and the markdown renderer
that applies it (see :mod:`bridge.markup.policy`)."""

from .policy import (  # noqa: F401
    ALLOWED_SCHEMES,
    ImageChoice,
    TenantTextPolicy,
    ToolTextPolicy,
    break_schemes,
    normalize_url,
    url_scheme,
)
