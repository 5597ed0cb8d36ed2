"""Fields the tool writes back into a source that can hold them (relay orders).  Pure.

- **The tool's key.**  A source with ``references`` (relay: the order's ``internalId``) is given
  the tool item's key (Jira ``OPS-12``) right after the create, so people on the source's side
  see where the item is handled.  Only an empty field, or one holding the key the bridge wrote
  itself (its hash is recorded), is written: a value someone else put there (a provider's own
  order number) is kept, with a note.  A key that changed (an issue moved to another project)
  is written again.  While the field holds the key, the header fact showing it is left out of
  the description, so writing it does not rewrite every description in the tool.
- **The due date back.**  Due dates flow source → tool for every source; for a source with
  ``due_dates`` a due date changed in the tool is written back, with the conflict policy when
  both changed (see :func:`bridge.sync.plan._plan_fields`).
"""

from __future__ import annotations

from dataclasses import replace

from bridge.model import FIELD_REFERENCE, SourceItem, TargetItem, content_hash
from bridge.sync import actions as a
from bridge.sync.links import LinkView
from bridge.sync.rules import SyncRules


def shows_own_reference(source: SourceItem, target: TargetItem | None, link: LinkView | None) -> SourceItem:
    """``source`` without the header fact showing its reference while that is the tool's key
    (or the key the bridge last wrote)."""
    if not source.reference or not source.reference_fact:
        return source
    own = (target is not None and source.reference == target.display_id) or (
        link is not None and link.source_hashes.get(FIELD_REFERENCE) == content_hash(source.reference))
    if not own:
        return source
    facts = tuple(f for f in source.facts if not (f[0] == source.reference_fact and f[1] == source.reference))
    return replace(source, facts=facts)


def plan_new_reference(source: SourceItem, rules: SyncRules) -> list[a.Action]:
    """After the create of ``source``'s item: its key into the source, when the field is empty."""
    if not rules.source_references:
        return []
    if source.reference:
        return [a.Note(source.ref.key, f"the source's reference field holds {source.reference!r}, "
                                       "not written by the bridge: kept")]
    return [a.SetSourceReference(source.ref.key, None)]


def plan_reference(source: SourceItem, target: TargetItem, link: LinkView, rules: SyncRules) -> list[a.Action]:
    """A linked item: the tool's key into the source where it is missing or outdated."""
    key = target.display_id
    if not rules.source_references or not key:
        return []
    now = source.reference or ""
    written = link.source_hashes.get(FIELD_REFERENCE)
    if now == key:
        if written != content_hash(key):  # written by a person, or recorded lost: ours from now on
            return [a.RecordHashes(source.ref.key, {FIELD_REFERENCE: content_hash(key)})]
        return []
    if now and written != content_hash(now):
        return [a.Note(source.ref.key, f"the source's reference field holds {now!r}, not written by the "
                                       f"bridge: kept (the tool's key is {key})")]
    return [a.SetSourceReference(source.ref.key, key)]
