"""What the bridge has seen of casavi's answers where the manager API document is silent.

The document leaves open (see ``bridge/sandbox/casavi/readings.py`` for the sandbox's side):

- whether ``GET /tickets/{id}`` embeds the ticket's comments (its sample shows
  ``"comments": []``; a separate paged "Get comments of a ticket" exists);
- whether a new comment or task moves the ticket's ``lastModified`` ("when ticket was last
  updated");
- whether ``attachmentDetails`` items carry a download ``url`` (no item schema);
- whether the refresh call has the path ``POST /authenticate/refresh`` (no path given).

Until an answer proves otherwise the bridge assumes the inconvenient reading, which is safe:
comments are read from the paged endpoint, and linked open tickets are swept for comments
and task changes every ``[sync] sweep_interval_seconds``.  Proof comes from what casavi
answers — in :func:`probe` (run by ``check`` and once at the start of a daemon) and in every
ticket read afterwards:

- comments embedded: a ticket whose embedded comments equal its paged ones, non-empty,
  :data:`PROOF_COUNT` times and never a ticket whose paged comments are missing from the
  embedded list;
- comments move ``lastModified``: a comment the bridge itself wrote (with no status change)
  moved the ticket's ``lastModified`` from before the write to at least the comment's
  ``createdAt``, :data:`PROOF_COUNT` times; and never a comment or task stamp later than the
  ticket's ``lastModified``, nor a write that left it where it was.  (Old data proves nothing:
  a comment written with a status change, casavi's ``comment`` shorthand, shares its stamp
  with ``lastModified`` under either reading.)

A single contradiction settles the question for the life of the process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from bridge.casavi.records import Ticket, TicketComment

PROOF_COUNT = 3


@dataclass(frozen=True)
class ShapeFindings:
    """What ``check`` prints; None where nothing was seen yet."""

    comments_embedded: bool | None
    comments_move_modified: bool | None
    attachment_urls: bool | None
    refresh_path: bool | None

    def lines(self) -> list[str]:
        def say(value: bool | None, yes: str, no: str, unknown: str) -> str:
            return unknown if value is None else (yes if value else no)

        return [
            "comments: " + say(self.comments_embedded, "embedded in GET /tickets/{id}",
                               "only in the paged GET /tickets/{id}/comments (read there)",
                               "not seen embedded yet (read from the paged endpoint)"),
            "lastModified: " + say(self.comments_move_modified,
                                   "moves with comments and tasks (the sweep costs nothing under date = modified)",
                                   "does not move with comments or tasks (linked open tickets are swept)",
                                   "not seen to move with comments yet (linked open tickets are swept)"),
            "attachmentDetails: " + say(self.attachment_urls, "carry a url", "carry no url (files read by id)",
                                        "none seen"),
            "token refresh: " + say(self.refresh_path, "POST /authenticate/refresh answers",
                                    "no refresh path (a fresh login before the token expires)", "not tried"),
        ]


class ShapeObserver:
    """Collects proof from ticket reads; thread-safe (the engine reads tickets in parallel)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._embedded_seen = 0
        self._embedded_refuted = False
        self._moves_seen = 0
        self._moves_refuted = False
        self.attachment_urls: bool | None = None
        self.refresh_path: bool | None = None

    @property
    def comments_embedded(self) -> bool:
        with self._lock:
            return not self._embedded_refuted and self._embedded_seen >= PROOF_COUNT

    @property
    def comments_move_modified(self) -> bool:
        with self._lock:
            return not self._moves_refuted and self._moves_seen >= PROOF_COUNT

    def findings(self) -> ShapeFindings:
        with self._lock:
            embedded = False if self._embedded_refuted else (True if self._embedded_seen >= PROOF_COUNT else None)
            moves = False if self._moves_refuted else (True if self._moves_seen >= PROOF_COUNT else None)
        return ShapeFindings(embedded, moves, self.attachment_urls, self.refresh_path)

    def saw_comments(self, embedded: Iterable[TicketComment], paged: Iterable[TicketComment]) -> None:
        """A ticket read both ways: compare the embedded comments with the paged ones."""
        inline = {c.comment_id for c in embedded}
        listed = {c.comment_id for c in paged}
        with self._lock:
            if listed - inline:
                self._embedded_refuted = True
            elif listed:
                self._embedded_seen += 1

    @property
    def comments_move_modified_known(self) -> bool:
        with self._lock:
            return self._moves_refuted or self._moves_seen >= PROOF_COUNT

    def saw_own_comment(self, before: datetime | None, after: datetime | None, created: datetime | None) -> None:
        """The ticket's lastModified just before and just after the bridge wrote a comment."""
        if before is None or after is None:
            return
        with self._lock:
            if after <= before:
                self._moves_refuted = True
            elif created is None or after >= created:
                self._moves_seen += 1

    def saw_ticket(self, ticket: Ticket, comments: Iterable[TicketComment]) -> None:
        """Stamps of a ticket with its comments and tasks: proof against "comments move
        lastModified"; attachment details with or without url."""
        modified = ticket.modified_at
        comment_stamps = [c.created_at for c in comments if c.created_at is not None]
        task_stamps = [s for t in ticket.tasks
                       for s in (t.created_at, t.accepted_at, t.declined_at, t.completed_at) if s is not None]
        details = list(ticket.attachment_details)
        with self._lock:
            if details:
                with_url = any(d.url for d in details)
                self.attachment_urls = with_url if self.attachment_urls is None else (self.attachment_urls or with_url)
            if modified is None:
                return
            if any(_later(s, modified) for s in comment_stamps + task_stamps):
                self._moves_refuted = True


def _later(stamp: datetime, modified: datetime) -> bool:
    try:
        return stamp > modified
    except TypeError:  # naive against aware: no proof either way
        return False
