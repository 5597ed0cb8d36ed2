"""Edited comments: the rule that carries an edit of a mirrored comment to its copy.  Pure.

- A comment has an original (where a person wrote it) and a copy (what the bridge wrote).  An
  edit of the original is written over the copy; the copy keeps saying who wrote the original
  (the connector's author line in the tool, the attribution in casavi).
- An edit of a copy is not carried back: the copy follows its original, and the original's
  next edit overwrites it.  (People edit what they wrote, not what the bridge wrote for them.)
- Deleting is not mirrored: a comment missing on either side is absence, not deletion.
- No echo: the link remembers the hash of the original's text when it was last copied; the
  copy's side is never compared, so the bridge's own write never reads as a change.
- A link from before this rule (no text hash yet) records the original's hash without writing:
  it is followed from the next edit on, and an upgrade does not rewrite every comment.

Which side holds the original: a comment whose source id is one the bridge derived from the
tool (``<connector>-<item>-c-<comment>``) was written in the tool; every other one in the source.
"""

from __future__ import annotations

from bridge.model import SourceItem, TargetItem, content_hash
from bridge.sync import actions as a
from bridge.sync.links import KIND_COMMENT, ItemLinks
from bridge.sync.rules import SyncRules

FIELD_TEXT = "text"


def text_hash(text: str) -> str:
    return content_hash(text)


def plan_comment_edits(source: SourceItem, target: TargetItem, links: ItemLinks, rules: SyncRules) -> list[a.Action]:
    """Actions that carry edited originals to their copies, for one linked item."""
    if not rules.comments or not target.target_id:
        return []
    key = source.ref.key
    written_prefix = f"{rules.connector}-{target.target_id}-c-"
    in_source = {c.comment_id: c for c in source.comments}
    in_tool = {c.comment_id: c for c in target.comments}
    plan: list[a.Action] = []
    for link in links.of_kind(KIND_COMMENT):
        if link.source_id.startswith(written_prefix):  # the original is the tool's comment
            original = in_tool.get(link.target_id)
            if original is None or link.source_id not in in_source:
                continue  # either one gone: absence is not deletion
            now = text_hash(original.text)
            recorded = link.target_hashes.get(FIELD_TEXT)
            if recorded is None:
                plan.append(a.AdoptChild(key, KIND_COMMENT, link.source_id, link.target_id,
                                         target_hashes={FIELD_TEXT: now}))
            elif now != recorded and rules.source_comment_edits:
                plan.append(a.UpdateSourceComment(key, link.source_id, original, now))
        else:  # the original is the source's comment
            original = in_source.get(link.source_id)
            if original is None or link.target_id not in in_tool:
                continue
            now = text_hash(original.text)
            recorded = link.source_hashes.get(FIELD_TEXT)
            if recorded is None:
                plan.append(a.AdoptChild(key, KIND_COMMENT, link.source_id, link.target_id,
                                         source_hashes={FIELD_TEXT: now}))
            elif now != recorded and rules.capabilities.comment_edits:
                plan.append(a.UpdateTargetComment(key, link.target_id, original, now))
    return plan
