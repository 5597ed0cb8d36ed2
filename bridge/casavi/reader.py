"""Reading casavi tickets whole — comments, tasks, attachments — under every reading of the document.

A ticket is read with ``GET /tickets/{id}``; its comments come from the paged
``GET /tickets/{id}/comments`` until casavi has been seen to embed them
(:mod:`bridge.casavi.shapes`).  A ticket's **version** is ``lastModified#digest``: the digest
covers what the bridge mirrors (status, comments, tasks, attachments), because casavi may
not move ``lastModified`` when a comment or task changes.  List calls only give
``lastModified``; :func:`bridge.source.same_version` compares the two forms.

The **sweep** (:meth:`TicketReader.sweep`) reads linked tickets that are open on either side
whole and reports their versions, so a comment or task change is seen within about one sweep
interval even when ``lastModified`` never moves.  It rolls: the engine passes, on every pass,
only the tickets not read whole within the interval (``links.read_whole_at``, the longest
unread first), and each summary of a whole read carries the time taken before that read
(``read_whole_at``), which the engine records where the version is the synced one.  So each
open linked ticket is read whole at most once per interval and at least about once.  Its
cost, per interval (per pass: the tickets whose last read became an interval old):

- ``date`` = modified and comments seen to move ``lastModified``: nothing (the incremental
  read sees every change; the due tickets are not even looked up);
- otherwise one ``GET /tickets/{id}`` per open linked ticket, plus its comment pages (one
  for up to 25 comments) until comments are seen embedded;
- ``date`` = created: also, once per interval (``list_open``), the list of tickets in OPEN,
  INPROGRESS, POSTPONED (25 per request; the filter's enum as the document gives it — PENDING
  cannot be filtered on), which finds linked tickets reopened after they were closed on both
  sides.  Its rows are list rows, not whole reads: they carry no ``read_whole_at``.  Once
  comments are seen to move ``lastModified`` a listed ticket's row tells all, so only the due
  tickets the listing did not show are read whole, with the listing.

Only the tickets whose version changed become the engine's candidates and are read again
there; the sweep keeps nothing (at 20,000 open tickets a cache would hold every comment).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, TypeVar

import structlog

from bridge.casavi.client import CasaviClient
from bridge.casavi.records import Ticket
from bridge.casavi.shapes import ShapeFindings, ShapeObserver
from bridge.errors import AuthError, BridgeError, BudgetExceededError, NotFoundError, RetriableError
from bridge.source import ParseProblem

log = structlog.get_logger()
_R = TypeVar("_R")

OPEN_FILTER = ("OPEN", "INPROGRESS", "POSTPONED")  # the list filter's enum without CLOSED
PROBE_TICKETS = 5  # tickets read whole by the probe


def full_version(ticket: Ticket) -> str:
    """``lastModified#digest`` of what the bridge mirrors from a ticket read whole."""
    content = [
        ticket.status,
        [[c.comment_id, c.text, c.is_internal, list(c.attachments)] for c in ticket.comments],
        # A task's files join its entry only when it has any: a ticket without them keeps its version.
        [[t.task_id, t.title, t.description, t.status, t.assigned_to_id]
         + ([sorted({*t.attachments, *(d.file_id for d in t.attachment_details)})] if t.attachments or t.attachment_details else [])
         for t in ticket.tasks],
        [d.file_id for d in ticket.attachment_details],
    ]
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:16]
    return f"{ticket.last_modified or ''}#{digest}"


class TicketReader:
    """Whole-ticket reads, the shape probe and the sweep for one :class:`CasaviClient`."""

    def __init__(self, client: CasaviClient, *, date_means_created: bool):
        self.client = client
        self.date_means_created = date_means_created
        self.shapes = ShapeObserver()
        self.probed = False
        # Tickets the sweep could not read for good (404, refused): not tried on every pass,
        # but again with the next ``list_open`` pass (once per interval, as the sweep was).
        self._unreadable: set[str] = set()
        self._unreadable_lock = threading.Lock()

    # -- one ticket -----------------------------------------------------------------------

    def read_whole(self, ticket_id: str) -> tuple[Ticket, datetime]:
        """:meth:`read`, with the time taken before it (UTC): a change made during the read is
        newer than that time, so a sweep stamped with it reads the ticket again."""
        read_at = datetime.now(timezone.utc)
        return self.read(ticket_id), read_at

    def read(self, ticket_id: str) -> Ticket:
        """The ticket with its comments (paged endpoint unless proven embedded); NotFoundError."""
        ticket = self.client.get_ticket(ticket_id)
        if not self.shapes.comments_embedded:
            try:
                paged = tuple(self.client.list_comments(ticket_id))
            except NotFoundError:
                # The ticket answered, its comment path did not (a path of our choosing, or the
                # ticket went in between): the embedded comments are all there is to read.
                log.warning("casavi_comment_list_not_found", ticket=ticket_id)
                paged = None
            if paged is not None:
                self.shapes.saw_comments(ticket.comments, paged)
                ticket = replace(ticket, comments=paged)
        self.shapes.saw_ticket(ticket, ticket.comments)
        return ticket

    # -- probe ----------------------------------------------------------------------------

    def probe(self) -> ShapeFindings:
        """Read-only look at the live shapes: the first ticket page, a few tickets whole (each
        also through the paged comments endpoint), and whether the refresh path answers.
        Feeds :attr:`shapes`; the engine then takes the cheapest path they allow."""
        self.probed = True
        tickets = []
        for entry in self.client.list_tickets(read_ahead=1):  # the first page is all it needs
            if isinstance(entry, Ticket):
                tickets.append(entry.ticket_id)
            if len(tickets) >= 25:
                break
        for ticket_id in tickets[-PROBE_TICKETS:]:  # the most recently modified of the first page
            try:
                ticket = self.client.get_ticket(ticket_id)
                paged = tuple(self.client.list_comments(ticket_id))
            except NotFoundError:
                continue
            self.shapes.saw_comments(ticket.comments, paged)
            self.shapes.saw_ticket(ticket, paged)
        self.shapes.refresh_path = self.client.auth.probe_refresh()
        findings = self.shapes.findings()
        log.info("casavi_shapes_probed", **{k: v for k, v in findings.__dict__.items()})
        return findings

    # -- sweep ----------------------------------------------------------------------------

    @property
    def sweep_costs_nothing(self) -> bool:
        return not self.date_means_created and self.shapes.comments_move_modified

    @property
    def reads_only_with_listing(self) -> bool:
        """Under created dates with comments seen to move ``lastModified`` the listing tells for
        the open tickets, and the others are read whole only on the passes that list."""
        return self.date_means_created and self.shapes.comments_move_modified

    def sweep(self, ticket_ids: Iterable[str], make_summary: Callable[..., object], *,
              list_open: bool = True) -> Iterator[object]:
        """Summaries of the given linked tickets read whole (``make_summary(ticket, version,
        read_at)``, ``read_at`` taken before the ticket's read) and, with ``list_open`` under
        created-date semantics, of every ticket in an open status (``make_summary(ticket,
        lastModified)``: list rows, not whole reads).  ``ticket_ids`` is iterated only when
        tickets are to be read.  A ticket that cannot be read now is left for the next pass
        (absence is not deletion; it stays due); one that cannot be read for good (404,
        refused) for the next ``list_open`` pass, a 404 reported as missing (a ParseProblem
        with ``missing``: the engine lists its link as orphaned)."""
        if self.sweep_costs_nothing:
            return
        listed: set[str] = set()
        if self.date_means_created:
            if self.shapes.comments_move_modified and not list_open:
                return  # the listing tells for the open tickets; the others are read with it
            if list_open:
                for entry in self.client.list_tickets(statuses=list(OPEN_FILTER)):
                    if isinstance(entry, Ticket):
                        listed.add(entry.ticket_id)
                        yield make_summary(entry, entry.last_modified or "")
        with self._unreadable_lock:
            if list_open:
                self._unreadable.clear()
            unreadable = set(self._unreadable)
        wanted = [t for t in dict.fromkeys(ticket_ids) if t not in unreadable]
        if self.date_means_created and self.shapes.comments_move_modified:
            wanted = [t for t in wanted if t not in listed]  # lastModified tells for the listed ones
        if not wanted:
            return
        workers = max(1, getattr(self.client.policy, "concurrency", 4))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for read in _in_order(pool, self._sweep_one, wanted, window=workers * 4):
                if isinstance(read, ParseProblem):
                    yield read
                elif read is not None:
                    ticket, read_at = read
                    yield make_summary(ticket, full_version(ticket), read_at)

    def _sweep_one(self, ticket_id: str) -> tuple[Ticket, datetime] | ParseProblem | None:
        """The ticket read whole, or None when it cannot be read now; a 404 is reported as
        missing (the engine lists the link as orphaned; nothing is closed or deleted)."""
        try:
            return self.read_whole(ticket_id)
        except (BudgetExceededError, AuthError):
            raise
        except BridgeError as exc:  # it stays due: tried again next pass, or if for good with the next listing
            log.info("casavi_sweep_read_failed", ticket=ticket_id, error=type(exc).__name__)
            if not isinstance(exc, RetriableError):
                with self._unreadable_lock:
                    self._unreadable.add(ticket_id)
            if isinstance(exc, NotFoundError):
                return ParseProblem(ticket_id, "casavi answers 404: deleted, or no longer readable by this account",
                                    missing=True)
            return None


def _in_order(pool: ThreadPoolExecutor, work: Callable[[str], _R], ticket_ids: list[str], *,
              window: int) -> Iterator[_R]:
    """``pool.map(work, ticket_ids)`` with at most ``window`` reads under way or waiting to be
    taken: ``map`` would queue a task for every linked ticket at once (20,000 at a time)."""
    waiting: deque[Future] = deque()
    ids = iter(ticket_ids)
    for ticket_id in islice(ids, window):
        waiting.append(pool.submit(work, ticket_id))
    while waiting:
        done = waiting.popleft().result()
        for ticket_id in islice(ids, 1):
            waiting.append(pool.submit(work, ticket_id))
        yield done
