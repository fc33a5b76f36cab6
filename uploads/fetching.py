"""Fetching files from URLs people give the portal, without letting a URL reach what it must not (docs/SECURITY.md).

The address checks are ssrfguard's (`ssrfguard.requests.Session`): it allows http and https only,
resolves a name once, refuses the whole name when any answer is loopback, private, link-local,
shared (CGNAT), multicast, unspecified, reserved or a cloud metadata address (IPv4-mapped IPv6 and
encoded forms such as `http://2130706433/` included), connects the socket to the very address it
checked (TLS and the Host header keep the name), and checks every redirect hop again.
`URL_IMPORT_ALLOW_PRIVATE_ADDRESSES` widens only the address table; schemes and redirects are
checked the same way. Bodies are streamed, never held whole in memory, under a size and time limit:
the whole file has URL_IMPORT_MAX_SECONDS, checked before every read, and no single read waits past it
(a server sending one byte at a time cannot hold a worker); the fetch task's Celery time limits are the
backstop for what happens before the body (a server dripping its headers).
"""

import hashlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import requests
import urllib3.exceptions
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from ssrfguard import Policy, SSRFGuardError
from ssrfguard.errors import BlockedAddressError, BlockedURLError, TooManyRedirectsError
from ssrfguard.requests import SafeAdapter, Session

# Bytes kept from the start of a body to tell what it is (assets.content.identify).
PREFIX_SIZE = 8192
_CHUNK = 1024 * 1024
# A socket timeout must be positive; a read this close to the deadline fails it at once.
_SHORTEST_WAIT = 0.01
# Any port: the address check is what keeps requests away from internal services.
_ANY_PORT = frozenset(range(1, 65536))
_EVERYWHERE = ("0.0.0.0/0", "::/0")


class FetchError(Exception):
    """A file could not be fetched. `transient` errors (timeouts, connection failures, 5xx) are worth another try."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.message = message
        self.transient = transient


@lru_cache(maxsize=4)
def _policy(allow_private: bool, max_redirects: int) -> Policy:
    return Policy(
        allowed_ports=_ANY_PORT,
        allowed_networks=_EVERYWHERE if allow_private else (),
        max_redirects=max_redirects,
    )


def policy() -> Policy:
    """The address policy of the current settings (schemes, addresses, redirects)."""
    return _policy(settings.URL_IMPORT_ALLOW_PRIVATE_ADDRESSES, settings.URL_IMPORT_MAX_REDIRECTS)


def refusal(url: str) -> str:
    """Why the portal will not fetch `url` as written (scheme, literal or encoded address), or "" when it may try.

    Pure: no name is resolved. Names are checked when the file is fetched.
    """
    try:
        policy().check_url(url)
    except SSRFGuardError as error:
        return refusal_reason(error)
    return ""


def refusal_reason(error: SSRFGuardError) -> str:
    """What a refusal of the address policy means, for people."""
    if isinstance(error, TooManyRedirectsError):
        return f"The address redirected more than {error.limit} times."
    if isinstance(error, BlockedURLError):
        if "scheme" in error.reason:
            return "Not an http or https URL: the portal fetches only http and https URLs."
        return f"The portal does not fetch from this address: {error.reason}."
    if isinstance(error, BlockedAddressError):
        return f"The portal does not fetch from this address: it leads to {error.address} ({error.reason})."
    return f"The portal does not fetch from this address: {error}."


def check_host(host: str, port: int) -> str:
    """Why the portal will not connect to `host` (any of its addresses refused), or "" when it may.

    The early check of a storage integration's endpoint, for a clear reason on the form; its connections are
    checked again, and pinned, by guarded_session.
    """
    try:
        policy().check_url(f"https://{host}:{port}/" if ":" not in host else f"https://[{host}]:{port}/")
        answers = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
        for address in answers:
            policy().check_address(address.split("%")[0])
    except socket.gaierror:
        return f"The name {host} does not resolve."
    except SSRFGuardError as error:
        return refusal_reason(error)
    return ""


def guarded_session() -> Session:
    """A requests session whose every connection goes to an address the policy checked (the name resolved once)."""
    session = Session(policy=policy())
    # Proxies from the environment would resolve the target themselves, out of reach of the checks.
    session.trust_env = False
    session.headers.update({"User-Agent": "AssetUploadPortal/1.0 (import)", "Accept-Encoding": "identity"})
    return session


def guard(session: requests.Session) -> requests.Session:
    """Puts a session a library made (google-auth's AuthorizedSession) under the address policy: every connection,
    on either scheme, goes to an address the policy checked, as in guarded_session."""
    adapter = SafeAdapter(policy=policy())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False
    return session


@dataclass
class Received:
    """What a body turned out to be once read to its end."""

    size: int = 0
    sha256: str = ""
    prefix: bytes = b""


@dataclass
class MeteredBody:
    """A file-like view of a body that hashes, counts and limits what passes through, and reports progress.

    Reading past `max_size` or past the deadline raises FetchError; so does an error of the source.
    """

    source: object  # anything with read(n)
    max_size: int
    deadline: float
    on_progress: Callable[[int], None] | None = None
    on_prefix: Callable[[bytes], None] | None = None
    received: Received = field(default_factory=Received)
    error: FetchError | None = None
    _digest: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    _last_report: float = 0.0

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes, fewer only at the end of the body (s3transfer takes a short read for the end)."""
        try:
            return self._read(size if size and size > 0 else _CHUNK)
        except FetchError as error:
            self.error = error
            raise

    def _read(self, size: int) -> bytes:
        pieces: list[bytes] = []
        wanted = size
        while wanted > 0 and not self.received.sha256:
            piece = self._read_piece(wanted)
            if not piece:
                self._finish()
                break
            pieces.append(piece)
            wanted -= len(piece)
        return b"".join(pieces)

    def _read_piece(self, size: int) -> bytes:
        # Checked before every read of the source, so a server sending a byte at a time meets the deadline too.
        if time.monotonic() > self.deadline:
            raise FetchError(overtime_reason())
        try:
            piece = self.source.read(size)
        except (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError) as error:
            if time.monotonic() >= self.deadline:
                raise FetchError(overtime_reason()) from error
            raise FetchError(_timeout_reason(), transient=True) from error
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            raise FetchError(f"The connection broke while receiving the file ({type(error).__name__}).", transient=True) from error
        if piece:
            self._take(piece)
        return piece

    def _take(self, piece: bytes) -> None:
        received = self.received
        before = received.size
        received.size += len(piece)
        if received.size > self.max_size:
            raise FetchError(f"The file is larger than {filesizeformat(self.max_size)}, the most the portal takes.")
        self._digest.update(piece)
        if before < PREFIX_SIZE:
            received.prefix += piece[: PREFIX_SIZE - before]
            if len(received.prefix) >= PREFIX_SIZE and self.on_prefix:
                self.on_prefix(received.prefix)
        now = time.monotonic()
        if self.on_progress and now - self._last_report >= 1:
            self._last_report = now
            self.on_progress(received.size)

    def _finish(self) -> None:
        if len(self.received.prefix) < PREFIX_SIZE and self.on_prefix:
            self.on_prefix(self.received.prefix)
        self.received.sha256 = self._digest.hexdigest()


def overtime_reason() -> str:
    """Why a file that took too long to arrive was given up (the whole-file deadline, or the task's time limit)."""
    return f"Fetching took longer than the {settings.URL_IMPORT_MAX_SECONDS:,} seconds allowed for one file."


def _timeout_reason() -> str:
    return (
        f"The server did not answer in time (connect {settings.URL_IMPORT_CONNECT_TIMEOUT}s, "
        f"read {settings.URL_IMPORT_READ_TIMEOUT}s)."
    )


class _Body:
    """The raw body, decoded if the server compressed it anyway (it was asked not to), read so that no single read
    outlives the file's deadline: each read takes what has arrived (one receive), waiting at most the time left."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, deadline: float):
        self.raw = raw
        self.deadline = deadline

    def read(self, size: int) -> bytes:
        connection = self.raw.connection
        if connection is not None and connection.sock is not None:
            left = self.deadline - time.monotonic()
            connection.sock.settimeout(max(min(settings.URL_IMPORT_READ_TIMEOUT, left), _SHORTEST_WAIT))
        return self.raw.read1(size, decode_content=True)


class open_url:
    """Opens `url` for streaming under the address policy: `with open_url(url) as body: body.read(...)`.

    Raises FetchError with a reason for people: refused addresses, HTTP 4xx (final), 5xx and
    timeouts (transient), bodies declared larger than the limit.
    """

    def __init__(self, url: str):
        self.url = url
        self.response: requests.Response | None = None
        self.session: Session | None = None

    def __enter__(self):
        # The whole file's time starts now: connecting and redirects count against it too.
        self.deadline = time.monotonic() + settings.URL_IMPORT_MAX_SECONDS
        self.session = guarded_session()
        timeout = (settings.URL_IMPORT_CONNECT_TIMEOUT, settings.URL_IMPORT_READ_TIMEOUT)
        try:
            self.response = self.session.get(self.url, stream=True, timeout=timeout, allow_redirects=True)
        except SSRFGuardError as error:
            self.close()
            raise FetchError(refusal_reason(error)) from error
        except requests.TooManyRedirects as error:
            self.close()
            raise FetchError(f"The address redirected more than {settings.URL_IMPORT_MAX_REDIRECTS} times.") from error
        except requests.Timeout as error:
            self.close()
            raise FetchError(_timeout_reason(), transient=True) from error
        except requests.exceptions.SSLError as error:
            self.close()
            raise FetchError("The server's TLS certificate could not be verified for its name.") from error
        except requests.ConnectionError as error:
            self.close()
            raise FetchError("Could not connect to the server (it refused the connection or could not be reached).", transient=True) from error
        except (requests.RequestException, ValueError) as error:
            self.close()
            raise FetchError(f"The address could not be fetched ({type(error).__name__}).") from error
        response = self.response
        if response.status_code >= 400:
            self.close()
            status = f"HTTP {response.status_code}{f' {response.reason}' if response.reason else ''}"
            if response.status_code >= 500:
                raise FetchError(f"The server answered {status}.", transient=True)
            raise FetchError(f"The server answered {status}.")
        if response.status_code >= 300:
            self.close()
            raise FetchError(f"The server answered HTTP {response.status_code} without a usable redirect.")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > settings.URL_IMPORT_MAX_FILE_SIZE:
            self.close()
            raise FetchError(
                f"The file is {filesizeformat(int(declared))}; the most the portal takes is "
                f"{filesizeformat(settings.URL_IMPORT_MAX_FILE_SIZE)}."
            )
        return _Body(response.raw, self.deadline)

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.response is not None:
            self.response.close()
        if self.session is not None:
            self.session.close()


def metered(source, *, deadline: float | None = None, on_progress=None, on_prefix=None) -> MeteredBody:
    """Wraps a body for streaming into storage under the size and time limits of the settings (the deadline
    of `open_url`'s body, or URL_IMPORT_MAX_SECONDS from now)."""
    return MeteredBody(
        source=source,
        max_size=settings.URL_IMPORT_MAX_FILE_SIZE,
        deadline=deadline if deadline is not None else time.monotonic() + settings.URL_IMPORT_MAX_SECONDS,
        on_progress=on_progress,
        on_prefix=on_prefix,
    )
