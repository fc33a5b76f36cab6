"""portal-upload: uploads files and folders into a project through the portal's public API.

    portal-upload --url https://portal.example.com --api-key aup_... --project PROJECT-ID photos/ clip.mp4

Only the public API is used (seed 001's calls, in bulk): log in once, register the files with their sha256
100 at a time (each answer carries the files' signed PUTs), PUT the bytes straight to storage, close them
100 at a time. Files of 64 MiB and more go one by one, in parts.
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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_START = 0, 1, 2
_CHUNK = 1024 * 1024
_RETRIES = 3
_TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
# S3 takes at most 5 GiB in one PUT: larger files always go in parts.
_MAX_SINGLE_PUT = 5 * 1024**3
# Files registered, and closed, per call (the API's limit for POST /assets/bulk and /assets/bulk/close).
BULK = 100
_HASHERS = 2


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

    def upload_all(self, files: list[tuple[Path, str]], jobs: int, report) -> None:
        """Brings every file in; `report(outcome)` is called once per file, from any thread.

        Files a single PUT takes go in drops of up to BULK files: one call registers a drop and answers its signed
        PUTs, the PUTs go `jobs` at a time, one call closes what was sent. The next drop is registered while one is
        still sending, so the connections never wait for the portal. Larger files go one by one, in parts.
        """
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="send")
        # Reading for the sha256 runs ahead of sending, in its own threads, so the PUTs never queue behind it.
        hashers = ThreadPoolExecutor(max_workers=_HASHERS, thread_name_prefix="hash")
        closers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="close")
        in_flight = threading.Semaphore(2 * BULK)  # files registered but not yet sent: at most two drops
        try:
            drop: list[_Prepared] = []
            for prepared in hashers.map(self._prepare, files):
                if isinstance(prepared, Outcome):
                    report(prepared)
                elif prepared.size >= min(self.multipart_threshold, _MAX_SINGLE_PUT):
                    pool.submit(self._upload_one, prepared, report)
                else:
                    drop.append(prepared)
                    if len(drop) == BULK:
                        self._send_drop(drop, pool, closers, in_flight, report)
                        drop = []
            if drop:
                self._send_drop(drop, pool, closers, in_flight, report)
            pool.shutdown(wait=True)
            closers.shutdown(wait=True)
        except KeyboardInterrupt:
            for executor in (hashers, pool, closers):
                executor.shutdown(wait=False, cancel_futures=True)
            raise
        hashers.shutdown()

    def _prepare(self, item: tuple[Path, str]) -> "_Prepared | Outcome":
        path, external_id = item
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
        return _Prepared(path, external_id, kind, sha256, size)

    def _upload_one(self, file: "_Prepared", report=None) -> Outcome:
        try:
            outcome = self._bring_in(file.path, file.external_id, file.kind, file.sha256, file.size)
        except FileFailed as failure:
            outcome = Outcome(file.path, "failed", str(failure))
        if report is not None:
            report(outcome)
        return outcome

    def _send_drop(self, drop: list["_Prepared"], pool, closers, in_flight, report) -> None:
        for _ in drop:
            in_flight.acquire()
        try:
            response = self.api.call("POST", "/assets/bulk", json={
                "projectId": self.project,
                "assets": [{"name": f.path.name, "fileName": f.path.name, "type": f.kind, "sha256": f.sha256,
                            "size": f.size, "externalId": f.external_id[:255]} for f in drop],
            })
            if response.status_code != 200:
                raise FileFailed(_message(response))
            results = response.json()["results"]
        except FileFailed as failure:
            for file in drop:
                in_flight.release()
                report(Outcome(file.path, "failed", str(failure)))
            return
        sending: list[tuple[_Prepared, str, Future]] = []
        for file, result in zip(drop, results):
            refused, asset = result.get("refused"), result.get("asset")
            if asset and result.get("upload"):
                future = pool.submit(self._put_signed, file, result["upload"])
                future.add_done_callback(lambda _: in_flight.release())
                sending.append((file, asset["id"], future))
                continue
            in_flight.release()
            if refused and refused["status"] == 409 and refused.get("existingStatus") != "uploading":
                report(Outcome(file.path, "present", refused["message"], refused.get("existingId") or ""))
            elif refused and refused["status"] != 409:
                report(Outcome(file.path, "failed", refused["message"]))
            else:
                # Registered by an earlier run that did not finish, or too large for one PUT: one by one.
                pool.submit(self._upload_one, file, report)
        if sending:
            _when_all_done([future for _, _, future in sending], lambda: closers.submit(self._close_drop, sending, report))

    def _put_signed(self, file: "_Prepared", upload: dict) -> None:
        headers = {**upload["headers"], "Content-Length": str(file.size)}
        for attempt in range(_RETRIES + 1):
            try:
                with open(file.path, "rb") as handle:
                    stored = self.api.http.put(upload["url"], data=_Counted(handle, file.size, self.progress),
                                               headers=headers, timeout=self.api.timeout)
                if stored.status_code == 200:
                    return
                problem = f"storage answered HTTP {stored.status_code}"
                if stored.status_code not in _TRANSIENT_STATUSES:
                    break
            except OSError as error:
                problem = str(error)
            if attempt < _RETRIES:
                time.sleep(min(2**attempt, 10))
        raise FileFailed(f"The transfer failed: {problem}")

    def _close_drop(self, sending: list, report) -> None:
        sent = []
        for file, asset_id, future in sending:
            problem = future.exception()
            if problem is None:
                sent.append((file, asset_id))
            else:
                report(Outcome(file.path, "failed", str(problem), asset_id))
        if not sent:
            return
        try:
            response = self.api.call("POST", "/assets/bulk/close", json={"ids": [asset_id for _, asset_id in sent]})
            if response.status_code != 200:
                raise FileFailed(_message(response))
            results = response.json()["results"]
        except FileFailed as failure:
            for file, asset_id in sent:
                report(Outcome(file.path, "failed", str(failure), asset_id))
            return
        for (file, asset_id), result in zip(sent, results):
            if result.get("refused"):
                report(Outcome(file.path, "failed", result["refused"]["message"], asset_id))
            else:
                report(Outcome(file.path, "uploaded", "", asset_id, file.size))

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


@dataclass(frozen=True)
class _Prepared:
    """A file read once for its sha256, ready to register."""

    path: Path
    external_id: str
    kind: str
    sha256: str
    size: int


def _when_all_done(futures: list[Future], then) -> None:
    """Calls `then()` once, from the thread that finishes the last of `futures`."""
    left = [len(futures)]
    lock = threading.Lock()

    def one_done(_):
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            then()

    for future in futures:
        future.add_done_callback(one_done)


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
    printing = threading.Lock()

    def report(outcome: Outcome) -> None:
        with printing:
            outcomes.append(outcome)
            progress.file_done(outcome)
            if not args.quiet or outcome.result == "failed":
                detail = f" ({outcome.message})" if outcome.message else ""
                print(f"{outcome.result:<9} {outcome.path}{detail}", flush=True)

    try:
        uploader.upload_all(files, max(1, min(args.jobs, 32)), report)
    except KeyboardInterrupt:
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
