"""What kind of item it is: the rule that follows the source's attributes into the tool.  Pure.

Attributes (:attr:`bridge.model.SourceItem.attributes`: casavi ``type``, ``typeGroup``,
``customFields.<key>``) flow source → tool only; which of them are followed, and how they
land in the tool's fields, is the connector's configuration (``rules.attributes``: name →
digest of its mapping).  Each attribute is compared with what the link recorded when it was
last written — the value and the mapping it went through — and written in a step of its own
(``SetTargetAttribute``), so a value the tool refuses fails alone and waits in the quarantine
while the item's other changes go on.  A change made in the tool is neither read nor written
back; it stays until the source's value (or the mapping) changes.

- A new item takes the attributes in its creating request where the tool allows; the steps that
  follow the create write only those the create could not set.
- A linked item whose attribute was never written (linked before the mapping was configured) or
  was written under another mapping gets it written the next time the item is planned (a change
  on either side, the sweep of a changed item, ``reconcile``); the mass-change brake guards
  the incremental passes as for every other field.
"""

from __future__ import annotations

from typing import Any, Iterable

from bridge.model import SourceItem, content_hash
from bridge.sync import actions as a
from bridge.sync.links import LinkView
from bridge.sync.rules import SyncRules


def attribute_field(name: str) -> str:
    """The hash name of one attribute in a link's source hashes: ``attr:typeGroup``."""
    return f"attr:{name}"


def attribute_hash(value: Any, mapping: str) -> str:
    """What a link records of a written attribute: its value and the mapping it went through."""
    return content_hash([value, mapping])


def _writes(source: SourceItem, names: Iterable[str], rules: SyncRules) -> list[a.SetTargetAttribute]:
    out: list[a.SetTargetAttribute] = []
    for name in names:
        value, mapping = source.attributes.get(name), rules.attributes[name]
        out.append(a.SetTargetAttribute(source.ref.key, name, value, mapping, attribute_hash(value, mapping)))
    return out


def plan_new_attributes(source: SourceItem, rules: SyncRules) -> list[a.SetTargetAttribute]:
    """The attribute steps after a create (each skipped when the create set it)."""
    return _writes(source, sorted(rules.attributes), rules)


def plan_attributes(source: SourceItem, link: LinkView, rules: SyncRules) -> list[a.SetTargetAttribute]:
    """Actions for a linked item's attributes: one write per attribute not recorded as it is now."""
    changed = [n for n in sorted(rules.attributes)
               if link.source_hashes.get(attribute_field(n)) !=
               attribute_hash(source.attributes.get(n), rules.attributes[n])]
    return _writes(source, changed, rules)
