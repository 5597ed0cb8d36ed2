"""How a tool file is known as the copy of a source file, for ticket files and task files alike.

A copy carries the source file's id as its marker (Jira: the ``casavi.attachments`` issue
property, written after the upload; Redmine: the attachment's description).  The ledger records
in the link's target hashes that the tool stored the marker (the write reported it, or a whole
read showed it when the file was linked), so a read that carries no markers (a batch read) is
no evidence of a lost one.  A file both sides hold that the ledger does not link is found again
by its marker, else by name and size.  Pure, no I/O.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from bridge.model import FIELD_MARKER, Attachment, content_hash
from bridge.sync.links import LinkView


def marker_hashes(file_id: str) -> dict[str, str]:
    """The target hashes of a file link whose marker (``file_id``) the tool holds."""
    return {FIELD_MARKER: content_hash(file_id)}


def marker_held(link: LinkView, file_id: str) -> bool:
    """The ledger holds that the tool stored ``file_id`` as the linked file's marker."""
    return link.target_hashes.get(FIELD_MARKER) == content_hash(file_id)


def shows_no_held_marker(files: Iterable[Attachment], linked: Mapping[str, LinkView],
                         file_id_of: Callable[[LinkView], str]) -> bool:
    """Some linked file (``linked`` by tool file id) shows no marker, and the ledger does not
    hold that the tool stored it (``file_id_of`` gives a link's source file id)."""
    return any(f.marker is None and (l := linked.get(f.attachment_id)) is not None and not marker_held(l, file_id_of(l))
               for f in files)


def twin_of(candidates: Iterable[Attachment], source_file: Attachment, taken: set[str]) -> Attachment | None:
    """The tool file not yet ``taken`` that is ``source_file``'s copy: by its marker, else by
    name and size (an earlier copy, or the copy back of a tool file)."""
    return next((t for t in candidates if t.attachment_id not in taken and
                 (t.marker == source_file.attachment_id or (t.name == source_file.name and t.size == source_file.size))),
                None)
