"""The contract every workflow-tool connector implements (Jira, Redmine, memory, third-party).

Connectors are found through the entry-point group ``casavi_bridge.connectors``: each entry
point names a :class:`ConnectorPlugin` (an object with ``name``, ``settings_model`` and
``create``).  The core owns this contract; implementations live in ``connectors/``.

Rules every implementation keeps (the shared suite ``tests/contract/connector_contract.py``
checks them):

- No I/O in ``__init__`` or at import time; :meth:`Connector.check` is the one explicit probe.
- Every write returns a :class:`~bridge.model.WriteResult` carrying the new version and the
  fields as they now read back.
- ``create`` stamps the marker in the same request that creates the item where the tool
  allows it, so no item exists without its marker; ``find_by_marker`` finds it again.
- Comments and sub-items written by the bridge carry their source id as marker where the tool
  can store one (declared in :class:`~bridge.model.Capabilities`).
- Library exceptions are translated into :mod:`bridge.errors` at the boundary; a create is
  never retried blindly (the engine retries creates only behind ``find_by_marker``).
- ``changed_since`` uses the tool's own timestamps, returns every item changed at or after
  ``since`` (more is fine; the engine de-duplicates on (target_id, version)).  It may return
  partial summaries (``TargetItem.partial``: the engine then calls ``get`` for the items whose
  version it has not synced) and a :class:`~bridge.model.Changes` with the tool's clock.
- Optional: ``observe_requests(observer)`` — call ``observer(status, seconds)`` after every
  request (status: the HTTP code, or "timeout" / "error"); the daemon exports it to Prometheus.
- Optional: ``attribute_names`` (a mapping: source attribute name → digest of its mapping, see
  :attr:`bridge.model.SourceItem.attributes`) and ``set_attribute(target_id, name, value)`` —
  the connector maps what kind of item it is to its own fields.  ``create`` then takes
  ``draft.attributes`` and answers which of them the new item holds
  (:attr:`~bridge.model.WriteResult.attributes`); ``set_attribute`` raises
  :class:`~bridge.errors.RefusedError` naming the setting when the tool cannot take a value.
- Optional, with ``capabilities.place_later``: ``create(..., place_later=True)`` and
  ``add_sub_item(..., place_later=True)`` leave the new item where the tool creates it (no
  status in ``fields``); ``placed({id: StatusTarget})`` reads such items in batches and returns
  a ``WriteResult`` (``fields`` status, resolution: what to record as the bridge's write) for
  each that needs no walk; ``place(id, StatusTarget)`` walks one of the rest.  Neither may
  walk over a status a person gave the item after it was created.
- Optional, with ``capabilities.assignee_in_create``: ``create(..., assignee=person)`` sets
  the tool's person in the creating request; a refused person leaves the item created without
  one, and ``fields["assignee"]`` says who it holds.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Protocol, runtime_checkable

from pydantic import BaseModel

from bridge.model import (
    Attachment,
    Capabilities,
    Comment,
    ItemDraft,
    Marker,
    StatusTarget,
    SubItem,
    Task,
    TargetItem,
    WriteResult,
)


@runtime_checkable
class Connector(Protocol):
    name: str  # "jira", "redmine", "memory": also the prefix of deterministic casavi ids
    capabilities: Capabilities

    def check(self) -> list[str]:
        """Reach the tool with the configured credentials; return one line per problem (empty = fine)."""

    def statuses(self) -> set[str]:
        """Status names that exist for the configured project (for status-map checks)."""

    def changed_since(self, since: datetime | None) -> Iterable[TargetItem]:
        """Items of the configured project changed at or after ``since`` (all items when None)."""

    def get(self, target_id: str) -> TargetItem:
        """One item with comments, sub-items and attachments; raises NotFoundError."""

    def find_by_marker(self, marker: Marker) -> TargetItem | None:
        """The item stamped with this marker, or None when there truly is none."""

    def create(self, draft: ItemDraft, marker: Marker) -> WriteResult:
        """Create an item carrying ``marker`` (in the same request where the tool allows)."""

    def update(self, target_id: str, draft: ItemDraft, fields: set[str]) -> WriteResult:
        """Rewrite the named fields (``title``, ``description``, ``due_date``) from the draft."""

    def set_status(self, target_id: str, status: StatusTarget) -> WriteResult:
        """Move the item to the status (through the workflow's transitions)."""

    def add_comment(self, target_id: str, comment: Comment, *, marker: str | None) -> WriteResult:
        """Add a comment (``comment.internal`` → restricted visibility); returns the comment id."""

    def update_comment(self, target_id: str, comment_id: str, comment: Comment) -> WriteResult:
        """Rewrite a comment the bridge wrote from ``comment`` (text, author line, visibility);
        only called when ``capabilities.comment_edits``."""

    def find_person(self, source_person_id: str, email: str | None) -> str | None:
        """The tool's user for a source staff member (override map, else by e-mail), or None;
        only called when ``capabilities.assignee``."""

    def set_assignee(self, target_id: str, person: str | None) -> WriteResult:
        """Assign the item (None: unassign); ``fields["assignee"]`` says who it now is ("" =
        nobody, also when the tool refused the person).  Only when ``capabilities.assignee``."""

    def add_sub_item(self, target_id: str, task: Task, status: StatusTarget, *, marker: str) -> WriteResult:
        """Create a sub-item for a source task; returns the sub-item id."""

    def update_sub_item(self, target_id: str, sub_id: str, task: Task, status: StatusTarget | None) -> WriteResult:
        """Rewrite a sub-item's title/description and, when given, its status."""

    def add_attachment(self, target_id: str, name: str, content_type: str, path: Path, *, marker: str | None) -> WriteResult:
        """Upload a file (streamed from ``path``); returns the attachment id."""

    def download_attachment(self, target_id: str, attachment: Attachment, dest: Path) -> None:
        """Stream an attachment's bytes to ``dest``."""


class ConnectorPlugin(Protocol):
    """What an entry point in ``casavi_bridge.connectors`` resolves to."""

    name: str
    settings_model: type[BaseModel]  # the connector's own config schema (extra="forbid")

    def create(self, settings: Any, *, http_policy: Any = None) -> Connector:
        """Build the connector from validated settings; must not do I/O."""


class InstalledPlugins(Mapping[str, "ConnectorPlugin"]):
    """The installed connector plugins by name; a plugin's module is imported the first time
    it is asked for, so a bridge for Jira never imports the Redmine connector (and its markup
    libraries: about 0.5 s of CPU at start-up).  Errors of a broken plugin are raised on that access."""

    def __init__(self) -> None:
        from importlib.metadata import entry_points

        self._points = {ep.name: ep for ep in entry_points(group="casavi_bridge.connectors")}
        self._loaded: dict[str, ConnectorPlugin] = {}

    def __getitem__(self, name: str) -> ConnectorPlugin:
        if name not in self._loaded:
            self._loaded[name] = self._points[name].load()
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._points)

    def __len__(self) -> int:
        return len(self._points)


def load_plugins() -> Mapping[str, ConnectorPlugin]:
    """Installed connector plugins by name (entry-point group ``casavi_bridge.connectors``),
    each imported when first used (:class:`InstalledPlugins`)."""
    return InstalledPlugins()


def plugin_versions() -> list[tuple[str, str, str]]:
    """(name, distribution, version) of every installed connector plugin, without importing them."""
    from importlib.metadata import entry_points

    rows = []
    for ep in entry_points(group="casavi_bridge.connectors"):
        dist = ep.dist
        rows.append((ep.name, dist.name if dist else "?", dist.version if dist else "?"))
    return sorted(rows)
