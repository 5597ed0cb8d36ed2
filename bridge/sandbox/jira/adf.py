"""Atlassian Document Format ⇄ plain text, for the sandbox's /rest/api/3 rich-text fields.

The sandbox stores description and comment bodies as text (what /rest/api/2 shows).  On v3
it answers with an ADF document and accepts one: paragraphs are separated by blank lines,
a single newline is a ``hardBreak``.  No ADF library exists on PyPI that does both
directions without a browser runtime, and the sandbox needs only this faithful subset, so it
is written here; unknown node types contribute their text children.
"""

from __future__ import annotations

from typing import Any


class AdfError(ValueError):
    """The value is not an ADF document."""


def text_to_adf(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    paragraphs = []
    for block in text.split("\n\n"):
        content: list[dict[str, Any]] = []
        for n, line in enumerate(block.split("\n")):
            if n:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def adf_to_text(document: Any) -> str | None:
    """Plain text of an ADF document; raises AdfError when ``document`` is not one."""
    if document is None:
        return None
    if not isinstance(document, dict) or document.get("type") != "doc" \
            or document.get("version") != 1 or not isinstance(document.get("content"), list):
        raise AdfError("Operation value must be an Atlassian Document (see the Atlassian"
                       " Document Format)")
    blocks = [_block_text(node) for node in document["content"]]
    return "\n\n".join(blocks)


_BLOCKS = ("paragraph", "heading", "blockquote", "codeBlock", "panel", "rule")


def _block_text(node: Any) -> str:
    if not isinstance(node, dict):
        raise AdfError("ADF nodes must be objects")
    kind = node.get("type")
    if kind in ("bulletList", "orderedList"):
        items = []
        for n, item in enumerate(node.get("content", []), start=1):
            marker = "*" if kind == "bulletList" else f"{n}."
            items.append(f"{marker} " + " ".join(_block_text(c) for c in item.get("content", [])))
        return "\n".join(items)
    if kind == "rule":
        return "----"
    if kind in _BLOCKS or "content" in node:
        return "".join(_inline_text(child) for child in node.get("content", []))
    return _inline_text(node)


def _inline_text(node: Any) -> str:
    if not isinstance(node, dict):
        raise AdfError("ADF nodes must be objects")
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        return str(attrs.get("text") or f"@{attrs.get('id', '')}")
    if kind == "emoji":
        return str(attrs.get("text") or attrs.get("shortName", ""))
    if kind in ("inlineCard", "blockCard"):
        return str(attrs.get("url", ""))
    if kind == "date":
        return str(attrs.get("timestamp", ""))
    return _block_text(node) if "content" in node else ""
