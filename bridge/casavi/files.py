"""File upload and download for the casavi client: streamed from and to disk, never in memory.

Upload: ``POST /files`` with the raw bytes as body, ``X-Filename`` and ``Content-Type``
headers; casavi refuses more than 10 MB, so a larger file is refused here before a byte is
sent.  Download: ``GET`` of what ``attachmentDetails[].url`` names (absolute or relative) or
``/files/{id}``; the ``token`` header only goes to the API's own origin, and redirects are
followed by hand so that it never travels to another host.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator
from urllib.parse import quote

import httpx
import structlog

from bridge.casavi import paths
from bridge.errors import FatalError, PayloadTooLargeError, RetriableError
from bridge.lenient import MalformedPayloadError, as_id

if TYPE_CHECKING:
    from bridge.casavi.session import CasaviSession

log = structlog.get_logger()

CHUNK_BYTES = 64 * 1024
MAX_REDIRECTS = 5


def filename_header(name: str) -> str:
    """``X-Filename`` value.  HTTP headers carry ASCII only; a name with other characters
    ("Musterstraße.jpg") is sent percent-encoded as UTF-8, the common convention for it."""
    if name.isascii() and name.isprintable():
        return name
    return quote(name, safe=" !#$&'()+,;=@[]^`{}~")


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    while True:
        chunk = handle.read(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def upload(session: "CasaviSession", path: Path, filename: str, content_type: str) -> str:
    path = Path(path)
    size = path.stat().st_size
    if size > paths.MAX_FILE_BYTES:
        raise PayloadTooLargeError(
            f"file {filename!r} is {size:,} bytes; casavi accepts at most "
            f"{paths.MAX_FILE_BYTES:,} bytes (10 MB) per file"
        )
    headers = {
        "Content-Type": content_type or "application/octet-stream",
        "Content-Length": str(size),
        paths.FILENAME_HEADER: filename_header(filename),
    }
    with path.open("rb") as handle:

        def body() -> Iterator[bytes]:
            handle.seek(0)  # a fresh stream for every attempt
            return _chunks(handle)

        # No caller-chosen id: a repeat could store the file twice, so it is repeated only
        # when the request never left (the policy's non-idempotent rule).
        response = session._call("POST", paths.FILES, idempotent=False, content=body, headers=headers)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    file_id = as_id(answer.get("id")) if isinstance(answer, dict) else None
    if file_id is None:
        raise MalformedPayloadError(f"POST {paths.FILES}: the answer carries no file id")
    log.info("casavi_file_uploaded", file_id=file_id, size=size)
    return file_id


def resolve_download_url(base_url: str, url_or_id: str) -> str:
    """Absolute URL of a file: an absolute URL as is, a path relative to the API base, or an id."""
    text = str(url_or_id).strip()
    if "://" in text:
        return text
    if text.startswith("/"):
        base_path = httpx.URL(base_url).path.rstrip("/")
        if base_path and (text == base_path or text.startswith(base_path + "/")):
            return str(httpx.URL(base_url).copy_with(path=text))
        return base_url.rstrip("/") + text
    return base_url.rstrip("/") + paths.file(text)


def _same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def download(session: "CasaviSession", url_or_id: str, dest: Path, *, max_bytes: int | None = None) -> int:
    """Stream the file to ``dest`` (via ``dest.part``, renamed when complete); returns its size."""
    dest = Path(dest)
    url = httpx.URL(resolve_download_url(session.base_url, url_or_id))
    api = httpx.URL(session.base_url)
    for _ in range(MAX_REDIRECTS + 1):
        response = session._call(
            "GET", str(url), idempotent=True, stream=True, send_token=_same_origin(url, api)
        )
        if response.is_redirect and "Location" in response.headers:
            response.close()
            url = url.join(response.headers["Location"])
            continue
        return _write(response, dest, max_bytes=max_bytes)
    raise FatalError(f"download of {url.path} was redirected more than {MAX_REDIRECTS} times")


def _write(response: httpx.Response, dest: Path, *, max_bytes: int | None) -> int:
    part = dest.with_name(dest.name + ".part")
    written = 0
    try:
        with part.open("wb") as out:
            for chunk in response.iter_bytes(CHUNK_BYTES):
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise PayloadTooLargeError(
                        f"download of {response.request.url.path} exceeds {max_bytes} bytes"
                    )
                out.write(chunk)
        os.replace(part, dest)
    except httpx.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise RetriableError(
            f"download of {response.request.url.path} broke off: {type(exc).__name__}"
        ) from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        response.close()
    log.debug("casavi_file_downloaded", path=response.request.url.path, size=written)
    return written
