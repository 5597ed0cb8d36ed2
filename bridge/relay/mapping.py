"""relay orders as the neutral model.  Pure: no I/O.

What goes where in the tool:

- the order's title is the issue's title; its status goes through the relay status map;
  ``dueDate`` is the issue's due date;
- header facts: relay order id, address, customer, property, type, follow-up date, the
  casavi ticket/order it came from, the provider's own internal id (left out while it is the
  tool's key, which the bridge writes there: :mod:`bridge.sync.source_fields`);
- the description lists the order fields (by position), the contact persons and the names of
  the order's files: relay's document gives attachments a name, a type and a date but no way
  to download them, so their bytes cannot be copied (``SourceItem.attachments`` stays empty);
- comments: people's comments are mirrored; a status-change comment is mirrored only when it
  carries text or files (a bare status change travels as the status); comments the bridge
  wrote are known by the id in their trailer (:func:`bridge.relay.parse.with_trailer`), and
  the one written for a file copied from the tool (``...-a-...``) is not a comment at all
  but that file's copy, so it is left out.
"""

from __future__ import annotations

import re

from bridge.model import Comment, SourceItem, SourceRef
from bridge.relay.records import ContactPerson, Order, OrderComment
from bridge.source import SourceSummary

SOURCE_NAME = "relay"
INTERNAL_ID_FACT = "Internal id"  # the header fact of the order's internalId (the provider's own id)

# The kind letter of a deterministic id "<connector>-<item>-<kind>-<child>" (plan.written_id).
_WRITTEN_KIND = re.compile(r".+-(?P<kind>[a-z])-[^-]+\Z")


def ref_for(order: Order) -> SourceRef:
    # relay's internalId is the provider's own text id, not casavi's number: no internal id.
    return SourceRef(SOURCE_NAME, order.order_id)


def summary_for(order: Order) -> SourceSummary:
    return SourceSummary(ref=ref_for(order), status=order.status, version=order.version,
                         modified_at=order.modified_at, created_at=order.created_at,
                         property_id=order.property_id)


def written_kind(written_id: str) -> str | None:
    match = _WRITTEN_KIND.match(written_id)
    return match.group("kind") if match else None


def neutral_comment(comment: OrderComment) -> Comment | None:
    """The comment as the planner sees it; None when it is not mirrored (see module doc)."""
    if comment.written_id is not None:
        if written_kind(comment.written_id) == "a":
            return None
        return Comment(comment.written_id, comment.body.rstrip(), author=comment.author,
                       created_at=comment.created_at)
    body = comment.body.strip()
    if not body and not comment.attachments:
        return None
    parts = []
    if comment.status_change:
        parts.append(f"*Status: {comment.status_change}*")
    if body:
        parts.append(body)
    if comment.attachments:
        parts.append("\n".join(f"📎 {a.name}" for a in comment.attachments))
    return Comment(comment.comment_id, "\n\n".join(parts), author=comment.author, created_at=comment.created_at)


def _person(person: ContactPerson) -> str:
    head = person.name or person.email or ""
    if person.type:
        head = f"{head} ({person.type})"
    reach = [p for p in (person.telephone, person.mobile, person.email if person.name else None) if p]
    return f"{head} — {', '.join(reach)}" if reach else head


def description_for(order: Order) -> str:
    """Order fields, contact persons and file names as markdown."""
    sections = []
    if order.fields:
        lines = [f"- **{f.name}**: {f.content}" if f.name else f"- {f.content}" for f in order.fields]
        sections.append("**Order fields**\n\n" + "\n".join(lines))
    if order.contact_persons:
        sections.append("**Contact persons**\n\n" + "\n".join(f"- {_person(p)}" for p in order.contact_persons))
    if order.attachments:
        sections.append("**Files in relay**\n\n" + "\n".join(f"- {a.name}" for a in order.attachments))
    return "\n\n".join(sections)


def facts_for(order: Order, customer_name: str | None = None) -> tuple[tuple[str, str], ...]:
    facts: list[tuple[str, str]] = [("relay order", order.order_id)]
    if order.address is not None and order.address.one_line():
        facts.append(("Address", order.address.one_line()))
    if order.customer_id:
        named = f"{order.customer_id} {customer_name}" if customer_name else order.customer_id
        facts.append(("Customer", named))
    if order.property_id:
        facts.append(("Property", order.property_id))
    if order.type:
        facts.append(("Type", order.type))
    if order.follow_up_date:
        facts.append(("Follow-up date", order.follow_up_date.isoformat()))
    if order.casavi_ticket_id:
        facts.append(("casavi ticket", order.casavi_ticket_id))
    if order.casavi_order_id:
        facts.append(("casavi order", order.casavi_order_id))
    if order.internal_id:
        facts.append((INTERNAL_ID_FACT, order.internal_id))
    return tuple(facts)


def type_label(order_type: str) -> str | None:
    slug = re.sub(r"[\W_]+", "-", order_type.strip().lower()).strip("-")
    return slug[:60] or None


def item_for(order: Order, customer_name: str | None = None) -> SourceItem:
    labels = [SOURCE_NAME]
    if (label := type_label(order.type)) is not None:
        labels.append(label)
    comments = tuple(c for c in (neutral_comment(x) for x in order.comments) if c is not None)
    return SourceItem(
        ref=ref_for(order),
        title=order.title,
        description=description_for(order),
        status=order.status,
        facts=facts_for(order, customer_name),
        labels=tuple(labels),
        created_at=order.created_at,
        modified_at=order.modified_at,
        due_date=order.due_date,
        comments=comments,
        property_id=order.property_id,
        version=order.version,
        # The bridge writes the tool's key there (PatchOrder internalId, [relay] write_tool_key).
        reference=order.internal_id,
        reference_fact=INTERNAL_ID_FACT,
    )
