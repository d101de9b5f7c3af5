"""The crawl's raw captures as WARC/1.1 files (ISO 28500), the web-archiving standard: ``OUTPUT/warc/``.

Every response a crawl receives is a ``response`` record with the ``request`` record that asked for it (or,
when its payload is the one the URL last had, a ``revisit`` record of the identical-payload-digest profile,
as Heritrix writes), each record its own gzip member, so that any tool reads one at an offset. A file starts
with a ``warcinfo`` record, and grows until it passes a size (``FINEWS_WARC_MAX_BYTES``); the file being
written is named ``….warc.gz.open``, and only a closed file (``….warc.gz``) is final.

The archive's ``pages`` table is the index: where each URL's capture is (file, offset, length). A record
is flushed to the operating system before the row that points at it can commit, so a kill leaves no row
pointing at bytes not written; what a kill can leave is a torn record at the end of an ``.open`` file,
which ``seal_interrupted`` cuts off before the next run writes.

The payload is the body as the crawl read it: Scrapy has undone any Content-Encoding and chunking, so the
headers that described the bytes on the wire (``Content-Encoding``, ``Transfer-Encoding``) are left out and
``Content-Length`` is the payload's; replay tools then serve the bytes the site sent as the page.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from isal import isal_zlib

WARC_DIR = "warc"
OPEN_SUFFIX = ".open"
WARC_SUFFIX = ".warc.gz"
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
# Headers about the bytes on the wire, which the payload (decoded by Scrapy) no longer is.
_WIRE_HEADERS = frozenset(("content-encoding", "transfer-encoding", "content-length"))
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# ISA-L's deflate (the isal package: gzip any reader inflates) at its level 1 compresses a post page's record in
# 16 µs where zlib takes 53 µs, for 5 % more bytes: what keeps writing the records within a crawl's 5 %
# (BENCHMARKS.md, "Session 10").
RECORD_COMPRESSION_LEVEL = 1
# Records wait here until a commit (or a full buffer) writes them: one write call per megabyte, not per record.
WRITE_BUFFER_BYTES = 1024 * 1024
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_BASE32_PAIRS = tuple(high + low for high in _BASE32 for low in _BASE32)  # 10 bits → two characters


class WarcError(OSError):
    """A capture that cannot be read back from its WARC file."""


@dataclass(frozen=True)
class Capture:
    """Where a response record is, and what its payload is."""

    file: str
    offset: int
    length: int
    digest: str  # WARC-Payload-Digest: ``sha1:`` and the base32 of the payload's SHA-1
    date: str  # WARC-Date


@dataclass(frozen=True)
class FetchedPage:
    """A page as a crawl received it: the body uncompressed, the headers as name → values, and the headers
    of the request that asked for it (the WARC request record)."""

    url: str
    status: int
    headers: dict[str, list[str]]
    body: bytes
    callback: str | None = None
    fetched_at: str = ""  # UTC ISO 8601 (the archive gives a page stored without one the time it stores it)
    request_headers: dict[str, list[str]] = field(default_factory=dict)


def payload_digest(body: bytes) -> str:
    """``sha1:`` and the base32 of ``body``'s SHA-1, as WARC digests are written (base64.b32encode's result,
    from a table: 160 bits are 16 pairs of characters, and the standard library's encoder is a Python loop)."""
    bits = int.from_bytes(hashlib.sha1(body).digest(), "big")
    return "sha1:" + "".join([_BASE32_PAIRS[(bits >> shift) & 1023] for shift in range(150, -1, -10)])


@lru_cache(maxsize=256)  # a crawl receives many pages within the same second
def warc_date(iso: str) -> str:
    """A UTC ISO 8601 time (``…+00:00``) as WARC-Date writes it (``…Z``)."""
    instant = datetime.fromisoformat(iso).astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S") + (f".{instant.microsecond:06d}" if instant.microsecond else "") + "Z"


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _header_block(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    # HTTP header bytes are latin-1 text (crawler/pagestore.py's headers_of): each character back to its byte.
    lines = [first_line, *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def _http_response_block(page: FetchedPage) -> bytes:
    headers = [(name, value) for name, values in page.headers.items() if name.lower() not in _WIRE_HEADERS
               for value in values]
    headers.append(("Content-Length", str(len(page.body))))
    return _header_block(f"HTTP/1.1 {_status_line(page.status)}", headers)


def _http_request_block(page: FetchedPage) -> bytes:
    parts = urlsplit(page.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("Host", parts.netloc)] + [
        (name, value) for name, values in page.request_headers.items() if name.lower() != "host" for value in values
    ]
    return _header_block(f"GET {target} HTTP/1.1", headers)  # the crawl asks with GET only


def _record_ids() -> tuple[str, str]:
    """Two random (version 4) UUID URNs from one call for random bytes."""
    data = bytearray(os.urandom(32))
    ids = []
    for start in (0, 16):
        data[start + 6] = data[start + 6] & 0x0F | 0x40  # the version
        data[start + 8] = data[start + 8] & 0x3F | 0x80  # the RFC 4122 variant
        hexa = data[start:start + 16].hex()
        ids.append(f"<urn:uuid:{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}>")
    return ids[0], ids[1]


def _gzip_record(warc_headers: list[tuple[str, str]], block: bytes) -> bytes:
    """One WARC/1.1 record (its headers, then ``block`` and the two CRLFs that end it) as a gzip member."""
    head = ["WARC/1.1", *(f"{name}: {value}" for name, value in warc_headers),
            f"WARC-Block-Digest: {payload_digest(block)}", f"Content-Length: {len(block)}"]
    compressor = isal_zlib.compressobj(RECORD_COMPRESSION_LEVEL, isal_zlib.DEFLATED, isal_zlib.MAX_WBITS + 16)
    return (compressor.compress(("\r\n".join(head) + "\r\n\r\n").encode("utf-8")) + compressor.compress(block)
            + compressor.compress(b"\r\n\r\n") + compressor.flush())


class WarcFiles:
    """The WARC files of one output folder, written by the one process that holds its crawl lock."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES, info: Mapping[str, str] | None = None) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.info = dict(info or {})
        self._file: BinaryIO | None = None
        self._name = ""

    def write(self, page: FetchedPage, revisit_of: Capture | None = None, digest: str = "") -> Capture:
        """Write ``page`` (its response, or a revisit of ``revisit_of``, then its request); returns where the
        response or revisit record is. The records are buffered: ``flush`` or ``sync`` before a row pointing
        at them commits. ``digest``: the payload's, when the caller has it.

        The records are serialised here rather than by warcio's writer, which builds each through several
        layers of objects: ``Archive.save_page`` took 371 µs a page with it, 66 µs so, with ISA-L and the
        buffer (BENCHMARKS.md, "Session 9" and "Session 10"); warcio reads them back, and ``warcio check``
        verifies every digest in the tests."""
        file = self._current()
        digest = digest or payload_digest(page.body)
        date = warc_date(page.fetched_at)
        (response_id, request_id), http_response = _record_ids(), _http_response_block(page)
        common = [("WARC-Record-ID", response_id), ("WARC-Date", date), ("WARC-Target-URI", page.url)]
        if revisit_of is None:
            record = _gzip_record(
                [("WARC-Type", "response"), *common, ("Content-Type", "application/http; msgtype=response"),
                 ("WARC-Payload-Digest", digest)],
                http_response + page.body,
            )
        else:  # the headers only: the payload is the one the earlier capture holds
            record = _gzip_record(
                [("WARC-Type", "revisit"), *common, ("Content-Type", "application/http; msgtype=response"),
                 ("WARC-Profile", REVISIT_PROFILE), ("WARC-Refers-To-Target-URI", page.url),
                 ("WARC-Refers-To-Date", revisit_of.date), ("WARC-Payload-Digest", digest)],
                http_response,
            )
        request = _gzip_record(
            [("WARC-Type", "request"), ("WARC-Record-ID", request_id), ("WARC-Date", date),
             ("WARC-Target-URI", page.url), ("WARC-Concurrent-To", response_id),
             ("Content-Type", "application/http; msgtype=request")],
            _http_request_block(page),
        )
        offset = file.tell()
        file.write(record)
        file.write(request)
        capture = Capture(self._name, offset, len(record), digest, date)
        if file.tell() >= self.max_bytes:
            self.close()
        return capture

    def flush(self) -> None:
        """Hand what was written to the operating system: a kill of this process then loses none of it."""
        if self._file is not None:
            self._file.flush()

    def sync(self) -> None:
        """Make what was written durable (before the index rows pointing at it commit)."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file being written and give it its final name."""
        if self._file is None:
            return
        self.sync()
        self._file.close()
        path = self.directory / (self._name + OPEN_SUFFIX)
        path.rename(self.directory / self._name)
        self._file = None
        self._name = ""

    def _current(self) -> BinaryIO:
        if self._file is not None:
            return self._file
        from warcio.warcwriter import WARCWriter

        self.directory.mkdir(parents=True, exist_ok=True)
        seal_interrupted(self.directory)
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        self._name = f"finews-{stamp}-{os.getpid()}{WARC_SUFFIX}"
        file = open(self.directory / (self._name + OPEN_SUFFIX), "xb", buffering=WRITE_BUFFER_BYTES)  # see close()
        writer = WARCWriter(file, gzip=True, warc_version="1.1")
        writer.write_record(writer.create_warcinfo_record(self._name, self.info))
        self._file = file
        return file


@dataclass(frozen=True)
class WarcTotals:
    """The WARC files of an output folder: closed (final) ones, ones being written (or left by a killed run,
    which the next crawl seals), and their bytes."""

    closed: int
    open: int
    size_bytes: int


def warc_totals(directory: Path) -> WarcTotals:
    closed = sorted(directory.glob(f"*{WARC_SUFFIX}"))
    being_written = sorted(directory.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}"))
    return WarcTotals(len(closed), len(being_written), sum(path.stat().st_size for path in closed + being_written))


def complete_length(path: Path) -> int:
    """The length of the complete records at the start of ``path`` (its whole size when none is torn)."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    end = 0
    with open(path, "rb") as stream:
        iterator = ArchiveIterator(stream, no_record_parse=False)
        try:
            for record in iterator:
                record.raw_stream.read()  # to the record's end, so that the next offset is known
                iterator.read_to_end(record)
                end = iterator.get_record_offset() + iterator.get_record_length()
        except (ArchiveLoadFailed, EOFError, OSError, ValueError):
            pass  # a torn record: the complete ones end where the last one did
    return end


def seal_interrupted(directory: Path) -> list[tuple[str, int, int]]:
    """Close the files a killed run left open: each cut after its last complete record, then given its final
    name. Returns (final name, bytes kept, bytes cut) for each."""
    sealed = []
    for path in sorted(directory.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}")):
        size = path.stat().st_size
        keep = complete_length(path)
        if keep < size:
            with open(path, "r+b") as stream:
                stream.truncate(keep)
                os.fsync(stream.fileno())
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        path.rename(final)
        sealed.append((final.name, keep, size - keep))
    return sealed


def read_capture(directory: Path, file: str, offset: int, length: int) -> tuple[int, dict[str, list[str]], bytes]:
    """The status, headers and payload of the response record at ``offset`` in ``file``."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    path = directory / file
    if not path.is_file() and (directory / (file + OPEN_SUFFIX)).is_file():
        path = directory / (file + OPEN_SUFFIX)  # the file this run is still writing
    try:
        with open(path, "rb") as stream:
            stream.seek(offset)
            data = stream.read(length)
        record = next(iter(ArchiveIterator(io.BytesIO(data))))
        body = record.raw_stream.read()
    except (OSError, StopIteration, ArchiveLoadFailed, ValueError) as error:
        raise WarcError(f"capture at {file}:{offset} is unreadable: {error}") from None
    if record.rec_type != "response" or record.http_headers is None:
        raise WarcError(f"capture at {file}:{offset} is a {record.rec_type} record, not a response")
    headers: dict[str, list[str]] = {}
    for name, value in record.http_headers.headers:
        headers.setdefault(name, []).append(value)
    return int(record.http_headers.get_statuscode()), headers, body
