"""Which upload failures are Redmine's refusal of a file for a limit (skipped with a notice) and
which are failures to retry (connectors.redmine.files)."""

from __future__ import annotations

from bridge.errors import AuthError, FatalError, PayloadTooLargeError, RetriableError
from connectors.redmine import files, mapping


def test_redmines_422_gives_its_own_reason():
    too_big = FatalError('POST /uploads.json answered 422: {"errors":["This file cannot be uploaded because it '
                         'exceeds the maximum allowed file size (5242880)"]}', status=422)
    assert files.refusal(too_big) == ("This file cannot be uploaded because it exceeds the maximum allowed file "
                                      "size (5242880)")
    denied = FatalError('POST /uploads.json answered 422: {"errors":["Attachment extension .exe is not allowed"]}',
                        status=422)
    assert files.refusal(denied) == "Attachment extension .exe is not allowed"


def test_a_proxys_413_is_a_refusal_and_other_failures_are_not():
    assert files.refusal(PayloadTooLargeError("POST /uploads.json answered 413")) is not None
    assert files.refusal(RetriableError("answered 503", status=503)) is None
    assert files.refusal(AuthError("answered 403", status=403)) is None
    assert files.refusal(FatalError("answered 400", status=400)) is None


def test_the_notice_is_the_bridges_own_and_no_comment():
    marker = mapping.file_notice_marker("17")
    note = mapping.note_with_marker(files.notice_text("Plan.pdf", 6 * 1024 * 1024, "too large"), marker)
    assert mapping.split_note(note)[1] == marker and mapping.is_notice(marker)
    assert mapping.to_comment({"id": 5, "notes": note}) is None
    assert "Plan.pdf (6.0 MB) is not attached here: too large." in note
