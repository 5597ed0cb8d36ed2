"""Where the casavi manager API document is silent, the sandbox offers each reading behind a switch.

The document (manager API v1, 1.12.10) leaves these points open; a real casavi answers one
way or the other, and the bridge must be correct under both.  Each is one switch; the
profile ``strict`` (the default of ``casavi-bridge sandbox`` and of the tests) picks the
reading that breaks a naive client, ``lenient`` the convenient one.

========================  ===============================================  ==================  =================
switch                    what the document says                            strict (default)    lenient
========================  ===============================================  ==================  =================
comments_move_modified    ``lastModified``: "when ticket was last          comments and tasks  every comment and
                          updated"; silent on comments and tasks            leave it alone      task write moves it
embed_comments            the ticket sample shows ``"comments": []``        always ``[]``; only  ``GET /tickets/{id}``
                          and a separate paged "Get comments of a ticket"   the paged endpoint   embeds them
                                                                            lists comments
filter_pending            list filter ``status`` enum: OPEN, CLOSED,        400 for PENDING      PENDING accepted
                          INPROGRESS, POSTPONED (the model adds PENDING)
task_put_merges           task update requires ``id`` and ``title``;        PUT replaces the     PUT changes only
                          silent on omitted fields                          task (omitted        the fields given
                                                                            fields cleared)
max_file_bytes            "Maximum request size is 10 MB"                   10,000,000           10,485,760 (MiB)
refresh_endpoint          "Refresh access token" has no path               404                  ``POST /authenticate/refresh``
attachment_urls           ``attachmentDetails: []``, no item schema         no ``url`` field     ``url`` to
                                                                                                 ``GET /files/{id}``
custom_fields_as_text     ``"customFields": {}``, no value schema           values typed as     every value as
                                                                            entered: text,      text ("1250.5",
                                                                            numbers, booleans,  "true", "Sanitär,
                                                                            lists, null         Elektro", "")
task_files_apart          1.9.0 "Ticket tasks now include attachment        a task's files are   only the ticket's
                          data"; silent on whether the ticket's             also listed in the   own (and its
                          ``attachments`` list a task's files too           ticket's attachments comments') files
task_put_adds_files       task update ``attachments``: "IDs of files        the list given       the files given
                          that should be attached"; silent on whether       replaces the task's  are added to the
                          the list replaces the task's files                files                task's
========================  ===============================================  ==================  =================

``date_semantics`` (``date`` = modified or created) is a reading too; it is its own switch
(``--date-semantics``), independent of the profile, because the tests run both under each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

PROFILES = ("strict", "lenient")
SEED_FILTER_STATUSES = ("OPEN", "CLOSED", "INPROGRESS", "POSTPONED")  # the list filter's enum
TEN_MB = 10_000_000  # "10 MB" read as SI megabytes
TEN_MIB = 10 * 1024 * 1024  # "10 MB" read as mebibytes


@dataclass(frozen=True)
class Readings:
    """One answer to each silent point of the document (see the module table)."""

    comments_move_modified: bool = False
    embed_comments: bool = False
    filter_pending: bool = False
    task_put_merges: bool = False
    max_file_bytes: int = TEN_MB
    refresh_endpoint: bool = False
    attachment_urls: bool = False
    custom_fields_as_text: bool = False
    task_files_apart: bool = False
    task_put_adds_files: bool = False

    @classmethod
    def profile(cls, name: str, **overrides: Any) -> "Readings":
        """The readings of profile ``name`` with ``overrides`` (None values are ignored)."""
        if name not in PROFILES:
            raise ValueError(f"casavi profile must be one of {', '.join(PROFILES)}")
        base = cls() if name == "strict" else cls(
            comments_move_modified=True, embed_comments=True, filter_pending=True, task_put_merges=True,
            max_file_bytes=TEN_MIB, refresh_endpoint=True, attachment_urls=True, custom_fields_as_text=True,
            task_files_apart=True, task_put_adds_files=True)
        return base.with_values({k: v for k, v in overrides.items() if v is not None})

    def with_values(self, values: Mapping[str, Any]) -> "Readings":
        """A copy with ``values`` set; ValueError for an unknown name or a wrong type."""
        known = {f.name: f for f in fields(self)}
        checked: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown casavi reading {key!r}")
            if key == "max_file_bytes":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise ValueError("max_file_bytes must be a positive integer")
            elif not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            checked[key] = value
        return replace(self, **checked)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def filter_statuses(self) -> tuple[str, ...]:
        """The statuses the ticket list filter accepts under this reading."""
        return SEED_FILTER_STATUSES + (("PENDING",) if self.filter_pending else ())


READING_NAMES = tuple(f.name for f in fields(Readings))
