"""portal-upload: uploads files and folders into a project through the portal's public API.

    portal-upload --url https://portal.example.com --api-key aup_... --project PROJECT-ID photos/ clip.mp4

Only the public API is used (the same calls as seed 001's tutorial): log in, register each file with its
sha256, PUT the bytes to the signed URL (or in parts, for large files), close the upload session.
Files whose content is already in the project are skipped; after an interruption, running the same
command again finishes the job without sending again what already arrived (the portal remembers each
registered file by its sha256). Exits 0 when every file is in the project, 1 when some failed, 2 when
it could not start.
"""

import argparse
import hashlib
import mimetypes
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import requests

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_START = 0, 1, 2
_CHUNK = 1024 * 1024
_RETRIES = 3
_TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
# S3 takes at most 5 GiB in one PUT: larger files always go in parts.
_MAX_SINGLE_PUT = 5 * 1024**3


class CannotStart(Exception):
    """Wrong URL, key or password: nothing can be uploaded."""


class FileFailed(Exception):
    """This file could not be brought in; the message says why."""


@dataclass
class Outcome:
    path: Path
    result: str  # "uploaded", "present" (already in the project), "duplicate" (twice in this run), "skipped", "failed"
    message: str = ""
    asset_id: str = ""
    sent: int = 0


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = text.strip().lower().removesuffix("ib").removesuffix("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portal-upload",
        description="Upload images and videos (files or whole folders) into a project of the Asset Upload Portal.",
        epilog="The password can come from PORTAL_PASSWORD, the username from PORTAL_USERNAME, the key from PORTAL_API_KEY.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", type=Path, help="files, or folders to upload with everything in them")
    parser.add_argument("--url", default=os.environ.get("PORTAL_URL", ""), help="the portal's address, e.g. https://portal.example.com")
    parser.add_argument("--api-key", default=os.environ.get("PORTAL_API_KEY", ""), help="an API key from your profile page")
    parser.add_argument("--project", required=True, help="the id of the project to upload into")
    parser.add_argument("--username", default=os.environ.get("PORTAL_USERNAME", ""))
    parser.add_argument("--password", default=os.environ.get("PORTAL_PASSWORD", ""))
    parser.add_argument("--type", choices=("image", "video"), help="the type of every file (default: from each file's name)")
    parser.add_argument("--jobs", type=int, default=4, help="files uploaded at once (1-32, default 4)")
    parser.add_argument(
        "--multipart-threshold", type=_size, default=64 * 1024**2, metavar="SIZE",
        help="files this large or larger go in parts (default 64MiB)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the portal on each request")
    parser.add_argument("--quiet", action="store_true", help="no per-file lines and no progress bar")
    return parser


def collect(paths: list[Path]) -> list[tuple[Path, str]]:
    """Every file named or inside a folder named (hidden ones skipped), with its id relative to what was named."""
    found: list[tuple[Path, str]] = []
    for root in paths:
        if root.is_file():
            found.append((root, root.name))
        elif root.is_dir():
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        path = Path(folder) / name
                        found.append((path, path.relative_to(root).as_posix()))
        else:
            raise CannotStart(f"{root}: no such file or folder.")
    return found


def asset_type(path: Path, forced: str | None) -> str | None:
    if forced:
        return forced
    guessed, _ = mimetypes.guess_type(path.name)
    kind = (guessed or "").split("/")[0]
    return kind if kind in {"image", "video"} else None


def sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class Api:
    """The portal's API with the key on every call and a bearer token that is renewed when it expires."""

    def __init__(self, url: str, api_key: str, username: str, password: str, timeout: float):
        base = url.rstrip("/")
        self.base = base if base.endswith("/api/v1") else f"{base}/api/v1"
        self.api_key, self.username, self.password, self.timeout = api_key, username, password, timeout
        self._token = ""
        self._token_lock = threading.Lock()
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def login(self) -> None:
        try:
            response = self.http.post(
                f"{self.base}/login",
                json={"username": self.username, "password": self.password},
                headers={"x-api-key": self.api_key},
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise CannotStart(f"Cannot reach the portal at {self.base}: {error}") from None
        if response.status_code == 403:
            raise CannotStart("The portal refused the API key: create one on your profile page.")
        if response.status_code in {401, 422}:
            raise CannotStart("The portal refused the username or password.")
        if response.status_code == 429:
            raise CannotStart(f"Too many failed logins: try again in {response.headers.get('Retry-After', 'a few')} seconds.")
        if response.status_code != 200:
            raise CannotStart(f"Login failed with HTTP {response.status_code}: {response.text[:200]}")
        self._token = response.json()["access_token"]

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """One API call; renews the token once on 401 and retries transient failures with back-off."""
        renewed = False
        for attempt in range(_RETRIES + 1):
            token = self._token
            try:
                response = self.http.request(
                    method, f"{self.base}{path}",
                    headers={"x-api-key": self.api_key, "Authorization": f"Bearer {token}"},
                    timeout=self.timeout, **kwargs,
                )
            except requests.RequestException as error:
                if attempt == _RETRIES:
                    raise FileFailed(f"The portal did not answer: {error}") from None
            else:
                if response.status_code == 401 and not renewed:
                    with self._token_lock:
                        if self._token == token:
                            self.login()
                    renewed = True
                    continue
                if response.status_code not in _TRANSIENT_STATUSES or attempt == _RETRIES:
                    return response
            time.sleep(min(2**attempt, 10))
        raise AssertionError("unreachable")


def _message(response: requests.Response) -> str:
    try:
        return response.json().get("message") or response.text[:300]
    except ValueError:
        return f"HTTP {response.status_code} {response.text[:300]}".strip()


class Uploader:
    def __init__(self, api: Api, project: str, *, forced_type: str | None, multipart_threshold: int, progress: "Progress"):
        self.api, self.project, self.forced_type = api, project, forced_type
        self.multipart_threshold, self.progress = multipart_threshold, progress
        self._seen: dict[str, Path] = {}
        self._seen_lock = threading.Lock()

    def upload(self, path: Path, external_id: str) -> Outcome:
        kind = asset_type(path, self.forced_type)
        if kind is None:
            return Outcome(path, "skipped", "not an image or video by its name (use --type to say which)")
        try:
            sha256, size = sha256_of(path)
        except OSError as error:
            return Outcome(path, "failed", f"cannot read the file: {error.strerror or error}")
        if size == 0:
            return Outcome(path, "skipped", "the file is empty")
        with self._seen_lock:
            first = self._seen.setdefault(sha256, path)
        if first != path:
            return Outcome(path, "duplicate", f"same content as {first}")
        try:
            return self._bring_in(path, external_id, kind, sha256, size)
        except FileFailed as failure:
            return Outcome(path, "failed", str(failure))

    def _bring_in(self, path: Path, external_id: str, kind: str, sha256: str, size: int) -> Outcome:
        response = self.api.call(
            "POST", "/assets",
            json={"name": path.name, "fileName": path.name, "type": kind, "projectId": self.project,
                  "sha256": sha256, "size": size, "externalId": external_id[:255]},
        )
        if response.status_code == 201:
            asset_id = response.json()["id"]
            return self._transfer(path, asset_id, size, resume=None)
        if response.status_code != 409:
            raise FileFailed(_message(response))
        existing = response.json()
        asset_id = existing["existingId"]
        if existing["status"] != "uploading":
            # The portal's own words for a duplicate, the same through every door (assets.selectors).
            return Outcome(path, "present", existing.get("message") or "already in the project", asset_id)
        # Registered by an earlier run that did not finish: send only what has not arrived.
        state = self.api.call("GET", f"/assets/{asset_id}/upload")
        if state.status_code in {403, 409}:
            return Outcome(path, "present", "being uploaded by someone else", asset_id)
        if state.status_code != 200:
            raise FileFailed(_message(state))
        return self._transfer(path, asset_id, size, resume=state.json())

    def _transfer(self, path: Path, asset_id: str, size: int, *, resume: dict | None) -> Outcome:
        sent = 0
        if resume and resume.get("received"):
            pass  # the bytes arrived before the interruption; only closing is left
        elif size >= min(self.multipart_threshold, _MAX_SINGLE_PUT):
            sent = self._send_parts(path, asset_id, size, (resume or {}).get("multipart"))
        else:
            sent = self._send_whole(path, asset_id, size)
        closed = self.api.call("DELETE", f"/assets/{asset_id}/upload")
        if closed.status_code != 204:
            raise FileFailed(_message(closed))
        return Outcome(path, "uploaded", "resumed" if resume else "", asset_id, sent)

    def _put(self, url: str, body, length: int) -> requests.Response:
        return self.api.http.put(url, data=body, headers={"Content-Length": str(length)}, timeout=self.api.timeout)

    def _send_whole(self, path: Path, asset_id: str, size: int) -> int:
        for attempt in range(_RETRIES + 1):
            opened = self.api.call("POST", f"/assets/{asset_id}/upload")
            if opened.status_code != 200:
                raise FileFailed(_message(opened))
            with open(path, "rb") as handle:
                try:
                    stored = self._put(opened.json()["url"], _Counted(handle, size, self.progress), size)
                except requests.RequestException as error:
                    stored, problem = None, str(error)
            if stored is not None and stored.status_code == 200:
                return size
            problem = f"storage answered HTTP {stored.status_code}" if stored is not None else problem
            if attempt == _RETRIES:
                raise FileFailed(f"The transfer failed: {problem}")
            time.sleep(min(2**attempt, 10))
        return size

    def _send_parts(self, path: Path, asset_id: str, size: int, multipart: dict | None) -> int:
        if not multipart:
            opened = self.api.call("POST", f"/assets/{asset_id}/upload", params={"multipart": "true"})
            if opened.status_code != 200:
                raise FileFailed(_message(opened))
            multipart = opened.json()["multipart"]
        part_size = multipart["partSize"]
        count = -(-size // part_size)
        missing = [n for n in range(1, count + 1) if n not in set(multipart.get("receivedParts") or [])]
        sent = 0
        with open(path, "rb") as handle:
            for start in range(0, len(missing), 100):
                signed = self.api.call("POST", f"/assets/{asset_id}/upload/parts", json={"partNumbers": missing[start : start + 100]})
                if signed.status_code != 200:
                    raise FileFailed(_message(signed))
                for part in signed.json()["parts"]:
                    handle.seek((part["partNumber"] - 1) * part_size)
                    data = handle.read(part_size)
                    self._put_part(part["url"], data)
                    self.progress.add_bytes(len(data))
                    sent += len(data)
        return sent

    def _put_part(self, url: str, data: bytes) -> None:
        for attempt in range(_RETRIES + 1):
            try:
                stored = self._put(url, data, len(data))
                if stored.status_code == 200:
                    return
                problem = f"storage answered HTTP {stored.status_code}"
            except requests.RequestException as error:
                problem = str(error)
            if attempt == _RETRIES:
                raise FileFailed(f"A part failed to transfer: {problem}")
            time.sleep(min(2**attempt, 10))


class _Counted:
    """A file object that reports bytes to the progress bar as requests reads it."""

    def __init__(self, handle, size: int, progress: "Progress"):
        self.handle, self.size, self.progress = handle, size, progress

    def __len__(self) -> int:
        return self.size

    def read(self, amount: int = -1) -> bytes:
        data = self.handle.read(amount)
        self.progress.add_bytes(len(data))
        return data


class Progress:
    """One stderr line, rewritten in place on a terminal, printed now and then otherwise."""

    def __init__(self, total: int, *, enabled: bool):
        self.total, self.enabled = total, enabled
        self.done = self.failed = 0
        self.bytes = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._tty = sys.stderr.isatty()
        self._last_line = 0.0

    def add_bytes(self, count: int) -> None:
        with self._lock:
            self.bytes += count
        self._draw()

    def file_done(self, outcome: Outcome) -> None:
        with self._lock:
            self.done += 1
            self.failed += outcome.result == "failed"
        self._draw(force=not self._tty and (self.done == self.total or self.done % max(1, self.total // 10) == 0))

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and (not self._tty or now - self._last_line < 0.2):
            return
        self._last_line = now
        width = 30
        filled = int(width * self.done / self.total) if self.total else width
        rate = self.bytes / max(now - self.started, 1e-6) / 1024**2
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} files, "
                f"{self.bytes / 1024**2:,.1f} MiB sent ({rate:,.1f} MiB/s){f', {self.failed} failed' if self.failed else ''}")
        sys.stderr.write(f"\r{line}\033[K" if self._tty else f"{line}\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled and self._tty:
            sys.stderr.write("\n")


def run(args: argparse.Namespace) -> int:
    if not args.url or not args.api_key:
        raise CannotStart("Give --url and --api-key (or PORTAL_URL and PORTAL_API_KEY).")
    if not args.username or not args.password:
        raise CannotStart("Give --username and --password (or PORTAL_USERNAME and PORTAL_PASSWORD).")
    files = collect(args.paths)
    api = Api(args.url, args.api_key, args.username, args.password, args.timeout)
    api.login()
    project = api.call("GET", f"/projects/{args.project}")
    if project.status_code != 200:
        raise CannotStart(f"Project {args.project}: {_message(project)}")
    progress = Progress(len(files), enabled=not args.quiet)
    uploader = Uploader(api, args.project, forced_type=args.type, multipart_threshold=args.multipart_threshold, progress=progress)
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=max(1, min(args.jobs, 32))) as pool:
        futures = [pool.submit(uploader.upload, path, external_id) for path, external_id in files]
        try:
            for future in as_completed(futures):
                outcome = future.result()
                outcomes.append(outcome)
                progress.file_done(outcome)
                if not args.quiet or outcome.result == "failed":
                    detail = f" ({outcome.message})" if outcome.message else ""
                    print(f"{outcome.result:<9} {outcome.path}{detail}", flush=True)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            progress.finish()
            print("Interrupted: run the same command again to finish; what arrived is not sent twice.", file=sys.stderr)
            return 130
    progress.finish()
    counts = {result: sum(o.result == result for o in outcomes) for result in ("uploaded", "present", "duplicate", "skipped", "failed")}
    sent = sum(o.sent for o in outcomes)
    print(
        f"{len(files)} files: {counts['uploaded']} uploaded, {counts['present']} already in the project, "
        f"{counts['duplicate']} duplicates skipped, {counts['skipped']} not images or videos, {counts['failed']} failed; "
        f"{sent / 1024**2:,.1f} MiB sent in {time.monotonic() - progress.started:,.1f} s.",
        flush=True,
    )
    return EXIT_FAILED if counts["failed"] else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except CannotStart as problem:
        print(f"portal-upload: {problem}", file=sys.stderr)
        return EXIT_CANNOT_START


if __name__ == "__main__":
    sys.exit(main())
