"""casavi relay orders as a :class:`bridge.source.Source` (source name ``"relay"``).

Reading.  relay's GetOrders has no filter in the document, and it answers whole orders
(comments, fields and contact persons included).  So one poll reads only ``GET /orders``,
page by page (:meth:`RelayClient.list_orders`: pages of ``limit``/``offset`` or one unpaged
answer, whichever relay gives; pages + 1 requests, one once a server is known not to page).  Every order is reported with the version ``updatedAt#hash`` —
the hash covers the whole order, because ``updatedAt`` may not move for every change (a new
comment) — and the engine skips the orders whose version it has synced already.  The orders
that did change are taken from that same answer (:meth:`RelaySource.get` reuses a listed
order for :data:`LISTING_REUSE_SECONDS`), so a pass that mirrors changes costs no further
reads either; only writes do (see below).  ``since`` is not used to filter: with no
server-side filter and an ``updatedAt`` that may stay put, comparing versions is the only
safe test, and it is local.

Writing.  Status: ``GET`` the order, then ``PATCH {status}`` unless it is there already (a
repeat after a lost answer must not add a second status change).  The tool's key:
``PATCH {internalId}`` and a ``GET`` to verify it was stored; a due date: ``GET`` (its time
of day is kept), ``PATCH {dueDate}``, ``GET`` to verify.  Comments: relay takes no
caller-chosen comment id, so the deterministic id travels as a trailer in the text
(:func:`bridge.relay.parse.with_trailer`); before posting, the order's comments are read
(one ``GET``, only on write-back) and nothing is posted when the trailer is there, and after
a failed post that may have reached relay the comments are read once more — a retry never
duplicates.  Restricted (internal) tool comments are not written: relay comments have no
visibility, the property manager would read them.  Files from the tool go with a comment
(multipart, ≤ 10 files, ≤ 100 MB): :meth:`RelaySource.upload_file` only stages the file
locally, :meth:`RelaySource.add_comment` sends it.  Orders have no tasks.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import structlog

from bridge.errors import BridgeError, ConfigError, FatalError, RefusedError, RetriableError
from bridge.http import HttpPolicy
from bridge.model import Attachment, SourceItem, SourceRef, Task
from bridge.relay.client import CommentFile, RelayClient
from bridge.relay.mapping import SOURCE_NAME, item_for, summary_for
from bridge.relay.parse import OrderParseError, with_trailer
from bridge.relay.records import Order
from bridge.source import ParseProblem, SourceSummary

log = structlog.get_logger()

LISTING_REUSE_SECONDS = 60.0  # a listed order stands in for GET /orders/{id} this long
CUSTOMER_RELOAD_SECONDS = 600.0  # an unknown customer id reloads the names at most this often
DEFAULT_AUTHOR_NAME = "casavi-bridge"


class RelaySource:
    """relay's orders as the bridge's source."""

    name = SOURCE_NAME
    comment_edits = False  # relay takes no edits of comments
    assignees = False  # an order has no staff assignee
    date_means_created = False
    closed_statuses = frozenset({"FINISHED", "DECLINED"})
    sweep_reads_only_with_listing = False  # its sweep reads nothing

    def __init__(self, client: RelayClient, *, author_name: str = DEFAULT_AUTHOR_NAME,
                 clock: Callable[[], float] = time.monotonic, staging_dir: Path | None = None,
                 write_tool_key: bool = True, due_date_back: bool = True):
        self.client = client
        self.author_name = author_name
        self.references = write_tool_key  # set_reference: the tool's key into internalId
        self.due_dates = due_date_back  # set_due_date: the tool's due date back
        self._clock = clock
        self._lock = threading.Lock()
        self._listed: dict[str, tuple[Order, float]] = {}
        self._customers: dict[str, str] | None = None
        self._customers_lock = threading.Lock()
        self._customers_loaded_at: float | None = None
        self._staging_root = staging_dir
        self._staging: Path | None = None
        self._staged: dict[str, CommentFile] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> "RelaySource":
        """From the ``[relay]`` section (:class:`bridge.config.RelaySettings`)."""
        if settings is None:
            raise ConfigError('[relay] <- section required when [source] kind = "relay"')
        key = settings.api_key
        key = key.get_secret_value() if hasattr(key, "get_secret_value") else str(key)
        policy = HttpPolicy(concurrency=settings.concurrency, request_budget=settings.request_budget,
                            timeout=settings.timeout_seconds)
        client = RelayClient(settings.base_url, key, policy=policy, timeout=settings.timeout_seconds)
        return cls(client, author_name=settings.author_name, write_tool_key=settings.write_tool_key,
                   due_date_back=settings.due_date_back)

    def __repr__(self) -> str:
        return f"RelaySource({self.client!r})"

    # -- reading -----------------------------------------------------------------------------

    def check(self) -> list[str]:
        return self.client.check()

    def probe(self) -> list[str]:
        """What relay answers where its document is silent (read-only; for ``check``)."""
        paging = self.client.probe_order_paging()
        return [{"paged": "GET /orders pages by limit/offset (read page by page; pages + 1 requests per poll)",
                 "unpaged": "GET /orders answers every order at once (one request per poll)",
                 "unknown": "GET /orders: no orders yet, paging not seen (read page by page)"}[paging],
                f"comments are sent as {self.client.comment_encoding} first (the other encoding if refused)"]

    def begin_pass(self) -> None:
        """A new pass: the per-pass request budget is full again."""
        self.client.policy.reset_budget()

    def requests_made(self) -> int:
        return self.client.policy.requests_sent

    def changed_since(self, since: datetime | None) -> Iterator[SourceSummary | ParseProblem]:
        # Every order, every status: the engine skips synced versions and filters new orders.
        return iter(self._list())

    def sweep(self, item_ids: Iterable[str], *, list_open: bool = True) -> Iterator[SourceSummary | ParseProblem]:
        # Every poll already reads every order whole, its version hashing all of it: nothing to sweep.
        return iter(())

    def _list(self) -> list[SourceSummary | ParseProblem]:
        entries = self.client.list_orders()
        now = self._clock()
        listed = {e.order_id: (e, now) for e in entries if isinstance(e, Order) and e.complete}
        with self._lock:
            self._listed = listed
        out: list[SourceSummary | ParseProblem] = []
        for entry in entries:
            if isinstance(entry, OrderParseError):
                out.append(ParseProblem(entry.order_id, entry.reason))
            else:
                out.append(summary_for(entry))
        return out

    def get(self, ref: SourceRef) -> SourceItem:
        with self._lock:
            listed = self._listed.pop(ref.item_id, None)
        if listed is not None and self._clock() - listed[1] <= LISTING_REUSE_SECONDS:
            order = listed[0]
        else:
            order = self.client.get_order(ref.item_id)
        if order.problems:
            log.warning("relay_order_parts_skipped", order=order.order_id, problems=list(order.problems))
        return item_for(order, self._customer_name(order.customer_id))

    def named_task(self, task: Task) -> Task:
        return task  # an order's task header has nothing looked up late

    def _customer_name(self, customer_id: str | None) -> str | None:
        """The customer's name from one GetCustomers, cached; a failed lookup gives None."""
        if not customer_id:
            return None
        with self._customers_lock:  # one load at a time: the engine reads orders in parallel
            names, loaded_at = self._customers, self._customers_loaded_at
            stale = loaded_at is None or self._clock() - loaded_at >= CUSTOMER_RELOAD_SECONDS
            if (names is None or customer_id not in names) and stale:
                try:
                    names = {c.customer_id: c.name for c in self.client.list_customers() if c.name}
                except BridgeError as exc:
                    log.info("relay_customer_lookup_failed", error=type(exc).__name__)
                self._customers, self._customers_loaded_at = names, self._clock()
        return (names or {}).get(customer_id)

    # -- writing -----------------------------------------------------------------------------

    def set_status(self, ref: SourceRef, status: str, *, status_text: str | None = None,
                   suppress_rating_request: bool = False) -> str | None:
        # An order has no status label and no rating request: both are casavi ticket features.
        current = self.client.get_order(ref.item_id)
        if current.status == status:
            return current.version  # already there: a second PATCH would add a second status change
        self.client.patch_order(ref.item_id, status=status)
        log.info("relay_status_written", order=ref.item_id, status=status)
        return None  # PatchOrder's answer carries no order

    def set_reference(self, ref: SourceRef, reference: str) -> None:
        """PatchOrder ``internalId`` = the tool's key, then the order is read back: relay answers
        a PATCH with the order id only, and what it stored is what counts (RefusedError when it
        kept something else).  Two requests; a repeat writes the same value again, harmlessly."""
        self.client.patch_order(ref.item_id, internal_id=reference)
        stored = self.client.get_order(ref.item_id).internal_id
        if stored != reference:
            raise RefusedError(f"relay answered the PATCH of order {ref.item_id}'s internalId but holds "
                               f"{stored!r}, not {reference!r}")
        log.info("relay_internal_id_written", order=ref.item_id, internal_id=reference)

    def set_due_date(self, ref: SourceRef, due: date | None) -> None:
        """PatchOrder ``dueDate``: the new day at the time of day the order's due date had (the
        tool holds a calendar day; midnight UTC when the order had none), then read back.  A
        cleared due date is sent as ``null`` — relay's document neither offers nor forbids that;
        a relay that keeps the old date is reported (RefusedError), not taken for done."""
        current = self.client.get_order(ref.item_id)
        if current.due_date == due:
            return
        if due is None:
            self.client.patch_order(ref.item_id, clear_due_date=True)
        else:
            self.client.patch_order(ref.item_id, due_date=_same_time_of_day(current.due_date_text, due))
        stored = self.client.get_order(ref.item_id).due_date
        if stored != due:
            raise RefusedError(f"relay answered the PATCH of order {ref.item_id}'s dueDate but holds "
                               f"{stored.isoformat() if stored else 'none'}, not "
                               f"{due.isoformat() if due else 'none'}"
                               + (" (relay may not clear a due date)" if due is None else ""))
        log.info("relay_due_date_written", order=ref.item_id, due_date=due.isoformat() if due else None)

    def update_comment(self, ref: SourceRef, comment_id: str, text: str) -> None:
        """relay's API offers no comment edit (the relay seed documents create and list only);
        the engine never asks, since ``comment_edits`` is false."""
        raise FatalError(f"relay takes no edits of comments (order {ref.item_id}, comment {comment_id})")

    def staff_emails(self) -> dict[str, str | None]:
        """An order has no staff assignee (``assignees`` is false): nobody to match."""
        return {}

    def set_assignee(self, ref: SourceRef, staff_id: str | None) -> None:
        """relay orders carry no staff assignee; the engine never asks, since ``assignees`` is false."""
        raise FatalError(f"relay orders have no assignee (order {ref.item_id})")

    def add_comment(self, ref: SourceRef, comment_id: str, text: str, *, internal: bool,
                    author_email: str | None, file_ids: list[str] | None = None) -> str:
        try:
            files = [self._staged_file(file_id) for file_id in file_ids or []]
            if internal:
                log.info("relay_internal_comment_withheld", order=ref.item_id, comment=comment_id)
                return comment_id
            existing = self._written_comment(ref.item_id, comment_id)
            if existing is not None:
                log.info("relay_comment_already_present", order=ref.item_id, comment=comment_id)
                return existing
            try:
                created = self.client.create_comment(ref.item_id, with_trailer(text, comment_id),
                                                     self.author_name, files)
            except RetriableError:
                # The post may have reached relay before the answer was lost: look once.
                found = self._written_comment(ref.item_id, comment_id, quiet=True)
                if found is None:
                    raise
                created = found
            log.info("relay_comment_written", order=ref.item_id, comment=comment_id, relay_comment=created)
            return created
        finally:
            self._unstage(file_ids or [])

    def _written_comment(self, order_id: str, written_id: str, *, quiet: bool = False) -> str | None:
        try:
            comments = self.client.list_comments(order_id)
        except BridgeError:
            if quiet:
                return None
            raise
        return next((c.comment_id for c in comments if c.written_id == written_id), None)

    def add_task(self, ref: SourceRef, task_id: str, title: str, description: str, status: str) -> str:
        raise FatalError("relay orders have no tasks; set [sync] tasks = false for a relay source")

    def set_task_status(self, ref: SourceRef, task_id: str, title: str, status: str) -> None:
        raise FatalError("relay orders have no tasks; set [sync] tasks = false for a relay source")

    def add_task_file(self, ref: SourceRef, task_id: str, file_id: str) -> None:
        raise FatalError("relay orders have no tasks; set [sync] tasks = false for a relay source")

    def upload_file(self, name: str, content_type: str, path: Path) -> str:
        """Stage a copy of the file for the next :meth:`add_comment` (relay has no file upload
        of its own: files travel inside CreateOrderComment).  Each staging gets its own id, so
        two items sending the same file in one pass never share (and remove) one copy."""
        file_id = f"staged-{uuid.uuid4().hex}"
        with self._lock:
            if self._staging is None:
                self._staging = Path(tempfile.mkdtemp(prefix="casavi-bridge-relay-", dir=self._staging_root))
            staged = self._staging / file_id
        shutil.copyfile(path, staged)
        with self._lock:
            self._staged[file_id] = CommentFile(name, content_type, staged)
        return file_id

    def _staged_file(self, file_id: str) -> CommentFile:
        with self._lock:
            found = self._staged.get(file_id)
        if found is None:
            raise FatalError(f"file {file_id} was not staged for this relay comment")
        return found

    def _unstage(self, file_ids: list[str]) -> None:
        with self._lock:
            gone = [self._staged.pop(i) for i in file_ids if i in self._staged]
        for staged in gone:
            Path(staged.path).unlink(missing_ok=True)

    def download_attachment(self, ref: SourceRef, attachment: Attachment, dest: Path) -> None:
        # Never planned: relay's document offers no download, so orders expose no attachments.
        raise FatalError(f"relay offers no download of order files ({attachment.name})")

    def close(self) -> None:
        with self._lock:
            staging, self._staging = self._staging, None
            self._staged.clear()
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        self.client.close()


def _same_time_of_day(current: str | None, day: date) -> str:
    """``day`` as a relay date-time with the time of day of ``current`` (the order's dueDate as
    relay wrote it, ``2025-07-01T14:00:00.000Z``); midnight UTC when there is none."""
    if current and len(current) > 10 and current[4:5] == "-" and current[10:11] in ("T", " "):
        return day.isoformat() + current[10:]
    return f"{day.isoformat()}T00:00:00.000Z"
