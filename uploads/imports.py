"""Imports from lists of URLs (seed 000's CSV, seed 002's JSON): parse and preview, start, fetch, retry.

A list is parsed when it is chosen and nothing starts until people saw the preview: rows found, the
first rows, and every bad row with its line and reason. Started rows become assets of the session in
Uploading; a worker streams each file into storage (or, for a storage integration, reads it where it
is), and from there the file follows the same path as a dropped one: duplicates by content are
skipped and counted, failures are Upload Errors with a reason and can be retried, and the session's
finalize and email work the same.
"""

import csv
import io
import json
import uuid
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from assets import content, selectors, storage
from assets import services as asset_services
from assets.batches import batch_add_assets
from assets.models import Asset, AssetEvent
from projects.models import Batch
from uploads import fetching, integrations
from uploads.errors import UploadRefused
from uploads.models import StorageIntegration, UploadSession, UrlImport, UrlImportItem
from uploads.quotas import quota_check
from uploads.services import clean_file_name, upload_session_check_complete

# First-row cells that mark a CSV header rather than a file.
_HEADER_WORDS = {"url", "urls", "link", "uri", "data", "address", "source"}
_METADATA_FIELDS = {"frameRate": "frame_rate", "frameCount": "frame_count", "width": "width", "height": "height"}
# Rows shown in the preview before the list of problems.
PREVIEW_ROWS = 10
_MAX_URL_LENGTH = 2048


@dataclass
class _Parsed:
    rows: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    row_count: int = 0

    def bad(self, line: int, reason: str) -> None:
        self.problems.append({"line": line, "reason": reason})


# --- reading the list ----------------------------------------------------------------------------


def _read_text(uploaded) -> str:
    size = getattr(uploaded, "size", None)
    limit = settings.URL_IMPORT_MAX_LIST_SIZE
    if size is not None and size > limit:
        raise UploadRefused(
            f"The list is {filesizeformat(size)}; a list may be at most {filesizeformat(limit)}. "
            "Split it into several lists, one session each. Nothing was imported."
        )
    raw = uploaded.read(limit + 1)
    if len(raw) > limit:
        raise UploadRefused(f"The list is larger than {filesizeformat(limit)}. Split it into several lists. Nothing was imported.")
    if not raw.strip():
        raise UploadRefused("The list is empty: it has no rows. Nothing was imported.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise UploadRefused(
            f"The list is not UTF-8 text (line {line} has a byte UTF-8 does not allow). "
            "Save it as CSV UTF-8 (or JSON in UTF-8) and choose it again. Nothing was imported."
        ) from None


def _csv_entries(text: str):
    """(line, url, name) for each data row of seed 000's CSV: `url,name`, header optional, quotes allowed."""
    reader = csv.reader(io.StringIO(text, newline=""))
    first = True
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if first and cells[0].strip().lower() in _HEADER_WORDS:
                first = False
                continue
            first = False
            yield line, (cells[0].strip(), cells[1].strip() if len(cells) > 1 else "")
    except csv.Error as error:
        raise UploadRefused(f"The CSV cannot be read at line {reader.line_num}: {error}. Nothing was imported.") from None


def _json_entries(text: str):
    """(line, item) for each element of seed 002's JSON list, with the line the element starts on."""
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        raise UploadRefused(
            "The JSON is not a list: it must start with [ and hold one object per file, "
            'like [{"data": "https://…/a.jpg", "externalId": "a.jpg"}]. Nothing was imported.'
        )
    position = _skip_space(text, position + 1)
    if position < len(text) and text[position] == "]":
        if text[_skip_space(text, position + 1) :]:
            raise UploadRefused("The JSON has text after its list. Nothing was imported.")
        return
    while True:
        try:
            item, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise UploadRefused(f"The JSON is not valid at line {error.lineno}: {error.msg}. Nothing was imported.") from None
        yield text.count("\n", 0, position) + 1, item
        position = _skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
            continue
        if position < len(text) and text[position] == "]":
            if text[_skip_space(text, position + 1) :]:
                raise UploadRefused("The JSON has text after its list. Nothing was imported.")
            return
        line = text.count("\n", 0, position) + 1
        raise UploadRefused(f"The JSON is not valid at line {line}: expected , or ] between items. Nothing was imported.")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


# --- checking rows -------------------------------------------------------------------------------


def _url_problem(url: str) -> str:
    if not url:
        return "No URL."
    if len(url) > _MAX_URL_LENGTH:
        return f"The URL is longer than {_MAX_URL_LENGTH:,} characters."
    parts = urlsplit(url)
    if parts.scheme and parts.scheme.lower() not in {"http", "https"} and "://" in url:
        return f"Not an http or https URL ({parts.scheme}://): the portal fetches only http and https URLs."
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return f"Not a URL: “{url[:80]}”."
    return fetching.refusal(url)


def _name_from_url(url: str) -> str:
    return clean_file_name(unquote(PurePosixPath(urlsplit(url).path).name))


def _metadata(value, session: UploadSession) -> tuple[dict, str]:
    if value is None:
        return {}, ""
    if not isinstance(value, dict):
        return {}, "metadata must be an object with frameRate, frameCount, width and height."
    missing = [name for name in _METADATA_FIELDS if name not in value]
    if missing:
        return {}, f"metadata lacks {', '.join(missing)}: give all four (frameRate, frameCount, width, height) or none."
    clean = {}
    for name, key in _METADATA_FIELDS.items():
        number = value[name]
        if isinstance(number, bool) or not isinstance(number, int | float) or number <= 0:
            return {}, f"metadata {name} must be a positive number."
        if name == "frameCount" and not (isinstance(number, int) or float(number).is_integer()):
            return {}, "metadata frameCount must be a whole number."
        clean[key] = int(number) if name == "frameCount" else number
    if session.asset_type != UploadSession.AssetType.VIDEO:
        return {}, ""  # Frame metadata means nothing for images; it is not an error to have it.
    return clean | {"provided": True}, ""


def _batches(value, by_id: dict, by_name: dict) -> tuple[list[str], str]:
    if value is None:
        return [], ""
    if not isinstance(value, list) or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return [], "batches must be a list of batch ids or names."
    found = []
    for raw in value:
        wanted = str(raw).strip()
        batch = by_id.get(wanted.lower())
        if batch is None:
            named = by_name.get(wanted, [])
            if len(named) > 1:
                return [], f"Several batches are named “{wanted}”: give its id instead."
            batch = named[0] if named else None
        if batch is None:
            return [], f"Unknown batch “{wanted}”: no batch of this project has that id or name."
        if str(batch.pk) not in found:
            found.append(str(batch.pk))
    return found, ""


def _check(parsed: _Parsed, entries, *, session: UploadSession, integration: StorageIntegration | None, is_json: bool) -> None:
    seen_urls: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    batches = list(Batch.objects.filter(project=session.project))
    by_id = {str(b.pk): b for b in batches}
    by_name: dict[str, list] = {}
    for batch in batches:
        by_name.setdefault(batch.name, []).append(batch)
    for line, entry in entries:
        parsed.row_count += 1
        if parsed.row_count > settings.URL_IMPORT_MAX_ROWS:
            raise UploadRefused(
                f"The list has more than {settings.URL_IMPORT_MAX_ROWS:,} rows; a session holds at most "
                f"{settings.UPLOAD_SESSION_MAX_FILES:,} files. Split the list. Nothing was imported."
            )
        row, problem = _check_entry(entry, session=session, integration=integration, is_json=is_json, by_id=by_id, by_name=by_name)
        if not problem:
            earlier = seen_urls.get(row["url"])
            if earlier is not None:
                problem = f"The same URL is on line {earlier}."
            elif is_json and row["external_id"] in seen_ids:
                problem = f"externalId “{row['external_id']}” is also on line {seen_ids[row['external_id']]}."
        if problem:
            parsed.bad(line, problem)
            continue
        seen_urls[row["url"]] = line
        if is_json:
            seen_ids[row["external_id"]] = line
        parsed.rows.append({"line": line, **row})


def _check_entry(entry, *, session, integration, is_json, by_id, by_name) -> tuple[dict, str]:
    if not is_json:
        url, name = entry
        problem = _url_problem(url)
        if problem:
            return {}, problem
        name = clean_file_name(name)
        if not name:
            return {}, "Empty name: add a comma and a name after the URL."
        return {"url": url, "name": name, "file_name": _name_from_url(url) or name}, ""
    if not isinstance(entry, dict):
        return {}, "Each item must be an object with data and externalId."
    url = entry.get("data")
    if url is None or (isinstance(url, str) and not url.strip()):
        return {}, "data is missing: it holds the file's URL."
    if not isinstance(url, str):
        return {}, "data must be a URL in quotes."
    url = url.strip()
    if len(url) > _MAX_URL_LENGTH:
        return {}, f"data is longer than {_MAX_URL_LENGTH:,} characters."
    if integration is None and url.lower().startswith(("s3://", "gs://")):
        return {}, f"An {url[:2].lower()}:// address names an object of a bucket: choose the bucket's storage integration with the list."
    if integration is not None:
        ref, problem = integrations.object_problem(url, integration)
        if problem:
            return {}, problem
        file_name = clean_file_name(PurePosixPath(ref.key).name)
    else:
        problem = _url_problem(url)
        if problem:
            return {}, problem
        file_name = _name_from_url(url)
    external_id = entry.get("externalId")
    if isinstance(external_id, int) and not isinstance(external_id, bool):
        external_id = str(external_id)
    if not isinstance(external_id, str) or not external_id.strip():
        return {}, "externalId is missing or empty."
    external_id = external_id.strip()
    if len(external_id) > 255:
        return {}, "externalId is longer than 255 characters."
    metadata, problem = _metadata(entry.get("metadata"), session)
    if problem:
        return {}, problem
    context_data = entry.get("contextData")
    if context_data is not None and not isinstance(context_data, dict):
        return {}, "contextData must be an object of keys and values."
    batch_ids, problem = _batches(entry.get("batches"), by_id, by_name)
    if problem:
        return {}, problem
    return {
        "url": url,
        "name": clean_file_name(external_id) or external_id[:255],
        "file_name": file_name or clean_file_name(external_id),
        "external_id": external_id,
        "metadata": metadata,
        "context_data": context_data or {},
        "batch_ids": batch_ids,
    }, ""


def _over_cap(parsed: _Parsed, session: UploadSession) -> None:
    """Good rows past the room left in the session become bad rows; the rest still fit."""
    room = session.room(held=session.files_held())
    if len(parsed.rows) <= room:
        return
    reason = (
        f"Over the session cap: a session holds at most {settings.UPLOAD_SESSION_MAX_FILES:,} files and this one has "
        f"room for {room:,}."
    )
    for row in parsed.rows[room:]:
        parsed.bad(row["line"], reason)
    parsed.rows = parsed.rows[:room]


# --- services ------------------------------------------------------------------------------------


def url_import_preview(*, session: UploadSession, user, uploaded, integration: StorageIntegration | None = None) -> UrlImport:
    """Parses a CSV or JSON list for `session` and keeps what it found for the preview; nothing is fetched yet.

    A list that cannot be read at all (empty, too large, not UTF-8, not a JSON list, too many rows)
    raises UploadRefused. Otherwise the good rows and the bad rows (line and reason) are saved.
    """
    if not session.is_open:
        raise UploadRefused("This session was finalized: start a new session to import more files.", status=409)
    is_json = session.source == UploadSession.Source.JSON
    if integration is not None and not is_json:
        raise UploadRefused("Storage integrations take JSON lists: open a session with the JSON source.")
    if integration is not None and integration.organization_id != session.project.organization_id:
        raise UploadRefused("Choose a storage integration of this organization.", status=404)
    text = _read_text(uploaded)
    parsed = _Parsed()
    entries = _json_entries(text) if is_json else _csv_entries(text)
    _check(parsed, entries, session=session, integration=integration, is_json=is_json)
    if parsed.row_count == 0:
        raise UploadRefused("The list has no rows (only a header or blank lines). Nothing was imported.")
    _over_cap(parsed, session)
    parsed.problems.sort(key=lambda problem: problem["line"])
    return UrlImport.objects.create(
        session=session,
        created_by=user,
        file_name=clean_file_name(getattr(uploaded, "name", "")) or "list",
        list_format=UrlImport.Format.JSON if is_json else UrlImport.Format.CSV,
        integration=integration,
        row_count=parsed.row_count,
        rows=parsed.rows,
        problems=parsed.problems,
    )


def url_import_start(*, url_import: UrlImport, user, good_rows_only: bool = False) -> int:
    """Turns the good rows of a previewed list into assets of its session (Uploading) and queues their fetching.

    A list with bad rows starts only when `good_rows_only` says so. The session's cap is checked again
    under its row lock, in the transaction that adds the files. Returns how many files were added.
    """
    if url_import.problems and not good_rows_only:
        raise UploadRefused(
            f"The list has {len(url_import.problems):,} bad row{'s' if len(url_import.problems) != 1 else ''}: "
            "fix them and choose the list again, or import only the good rows."
        )
    if not url_import.rows:
        raise UploadRefused("The list has no good rows to import.")
    source = Asset.Source.REFERENCE if url_import.integration_id else Asset.Source.URL
    with transaction.atomic():
        session = UploadSession.objects.select_for_update(of=("self",)).select_related("project").get(pk=url_import.session_id)
        if not session.is_open:
            raise UploadRefused("This session was finalized: start a new session to import more files.", status=409)
        session.check_room(held=session.files_held(), adding=len(url_import.rows), source="list")
        # The files' sizes are known once fetched: an organization or person already past a bytes quota adds none.
        quota_check(organization_id=session.project.organization_id, user_id=user.pk, adding_files=len(url_import.rows),
                    adding_bytes=0)
        if not url_import.mark_started(len(url_import.rows)):
            raise UploadRefused("This list was already imported.", status=409)
        assets, items = [], []
        for row in url_import.rows:
            file_name = row.get("file_name") or row["name"]
            asset = Asset(
                organization_id=session.project.organization_id,
                project=session.project,
                upload_session=session,
                name=row["name"],
                original_filename=file_name,
                asset_type=session.asset_type,
                source=source,
                source_url=row["url"],
                media_metadata=row.get("metadata") or {},
                context_data=row.get("context_data") or {},
                external_id=row.get("external_id", ""),
                uploaded_by=user,
            )
            asset.storage_key = storage.key_for(asset)
            assets.append(asset)
            items.append(
                UrlImportItem(url_import=url_import, asset=asset, asset_ref=asset.pk, line=row["line"], url=row["url"],
                              batch_ids=row.get("batch_ids") or [])
            )
        Asset.objects.bulk_create(assets)
        UrlImportItem.objects.bulk_create(items)
        asset_services.asset_events_record(assets=assets, action=AssetEvent.Action.ADDED, actor=user, to_status=Asset.Status.UPLOADING)
        ids = [str(asset.pk) for asset in assets]
        transaction.on_commit(lambda: _queue_fetches(ids))
    return len(assets)


def _queue_fetches(asset_ids: list[str]) -> None:
    # By name: uploads.tasks imports this module, so it is not imported back (docs/ARCHITECTURE.md, "Layers").
    fetch_imported_file = current_app.tasks["uploads.tasks.fetch_imported_file"]
    # A message carries its time limits: those of the settings now, not of when the task module was imported.
    limits = {"soft_time_limit": settings.URL_IMPORT_SOFT_TIME_LIMIT, "time_limit": settings.URL_IMPORT_TIME_LIMIT}
    for asset_id in asset_ids:
        fetch_imported_file.apply_async((asset_id,), **limits)


def url_import_retry(*, session: UploadSession, asset_ids: list) -> int:
    """Failed imported files of an open session start over: Uploading with a fresh key, fetched again."""
    if not session.is_open:
        raise UploadRefused("This session was finalized: start a new session to import these files again.", status=409)
    ids = []
    for raw in asset_ids:
        try:
            ids.append(uuid.UUID(str(raw)))
        except ValueError:
            raise UploadRefused("Some asset ids are not valid ids.") from None
    retried = []
    with transaction.atomic(), AssetEvent.collecting():
        failed = Asset.objects.filter(
            upload_session=session, pk__in=ids, status=Asset.Status.UPLOAD_ERROR, source__in=[Asset.Source.URL, Asset.Source.REFERENCE]
        ).select_related("import_item")
        for asset in failed:
            old_key = asset.storage_key
            # Only the person who opened the session retries its files (uploads/access.py): they are the actor.
            if asset.restart_upload(storage_key=storage.key_for(asset), sha256="", size=None, actor_id=session.created_by_id):
                UrlImportItem.objects.filter(asset=asset).update(bytes_received=0, note="", updated_at=timezone.now())
                transaction.on_commit(lambda key=old_key: storage.delete(key))
                retried.append(str(asset.pk))
        transaction.on_commit(lambda: _queue_fetches(retried))
    return len(retried)


# --- fetching one file (the worker's side) -------------------------------------------------------


def url_import_fetch(*, asset_id: str) -> None:
    """Brings one imported file in: streams it from its URL into storage (or reads it through its storage
    integration) while computing its sha256, then checks what it is, skips it when its content is
    already there, and otherwise moves it to Uploaded, records it in its batches and queues its processing.

    Raises FetchError for a transient failure (the caller retries); a permanent one is an Upload Error.
    """
    asset = (
        Asset.objects.filter(pk=asset_id, status=Asset.Status.UPLOADING)
        .select_related("project", "import_item__url_import__integration")
        .first()
    )
    if asset is None or not hasattr(asset, "import_item"):
        return
    item = asset.import_item

    def on_prefix(prefix: bytes) -> None:
        # Stop at the first bytes when they are not what the session takes (an HTML page, say).
        problem = _content_problem(asset, prefix)
        if problem:
            raise fetching.FetchError(problem)

    def on_progress(size: int) -> None:
        UrlImportItem.objects.filter(pk=item.pk).update(bytes_received=size)
        Asset.objects.filter(pk=asset.pk, status=Asset.Status.UPLOADING).update(updated_at=timezone.now())

    try:
        if asset.source == Asset.Source.REFERENCE:
            received = _read_reference(asset, on_prefix=on_prefix, on_progress=on_progress)
        else:
            received = _fetch_into_storage(asset, on_prefix=on_prefix, on_progress=on_progress)
    except fetching.FetchError as error:
        if error.transient:
            raise
        _give_up(asset, error.message)
        return
    UrlImportItem.objects.filter(pk=item.pk).update(bytes_received=received.size, note="")
    if received.size == 0:
        _give_up(asset, "The server sent an empty file (0 bytes).")
        return
    _arrived(asset, item, received)


def _content_problem(asset: Asset, prefix: bytes) -> str:
    return asset_services.content_problem(content.identify(prefix), asset_type=asset.asset_type, project=asset.project)


def _fetch_into_storage(asset: Asset, *, on_prefix, on_progress) -> fetching.Received:
    with fetching.open_url(asset.source_url) as body:
        stream = fetching.metered(body, deadline=body.deadline, on_prefix=on_prefix, on_progress=on_progress)
        try:
            storage.write_stream(asset.storage_key, stream)
        except fetching.FetchError:
            raise
        except Exception as error:
            # s3transfer may wrap what the stream raised; the stream kept it.
            if stream.error is not None:
                raise stream.error from error
            raise
    return stream.received


def _read_reference(asset: Asset, *, on_prefix, on_progress) -> fetching.Received:
    """Reads an object of a storage integration once to learn its size, content and sha256; nothing is stored."""
    integration = None
    try:
        integration, ref = integrations.reference_of(asset)
        size = integrations.object_size(integration, ref)
        if size > settings.URL_IMPORT_MAX_FILE_SIZE:
            raise fetching.FetchError(
                f"The file is {filesizeformat(size)}; the most the portal takes is {filesizeformat(settings.URL_IMPORT_MAX_FILE_SIZE)}."
            )
        body = integrations.open_object(integration, ref)
        stream = fetching.metered(body, on_prefix=on_prefix, on_progress=on_progress)
        try:
            while stream.read(1024 * 1024):
                pass
        finally:
            body.close()
    except integrations.IntegrationError as error:
        raise fetching.FetchError(error.message) from error
    except integrations.STORAGE_ERRORS as error:
        raise fetching.FetchError(integrations.explain(error, integration), transient=integrations.is_transient(error)) from error
    return stream.received


def _give_up(asset: Asset, reason: str, *, attempts: int = 1) -> None:
    if attempts > 1:
        reason = f"{reason} (tried {attempts} times)"
    asset_services.asset_fail(asset=asset, reason=f"{reason} Retry to fetch it again.", discard=True)


def url_import_give_up(*, asset_id: str, reason: str, attempts: int) -> None:
    """The last try of a transient failure also failed: Upload Error with its reason."""
    asset = Asset.objects.filter(pk=asset_id, status=Asset.Status.UPLOADING).first()
    if asset is not None:
        _give_up(asset, reason, attempts=attempts)


def url_import_note_retry(*, asset_id: str, reason: str, attempt: int, wait: int) -> None:
    """Shows on the file's row why another try is coming."""
    note = f"Try {attempt} failed: {reason} Trying again in {wait:,} second{'s' if wait != 1 else ''}."
    UrlImportItem.objects.filter(asset_id=asset_id).update(note=note[:500], updated_at=timezone.now())
    Asset.objects.filter(pk=asset_id, status=Asset.Status.UPLOADING).update(updated_at=timezone.now())


def _arrived(asset: Asset, item: UrlImportItem, received: fetching.Received) -> None:
    """The bytes are in (or were read in place): drop a duplicate, or move the file on to processing."""
    identified = content.identify(received.prefix)
    with transaction.atomic():
        # The session row lock makes two files of the same content finishing together take turns.
        session = UploadSession.objects.select_for_update().get(pk=asset.upload_session_id)
        project = asset.project
        earlier = (
            selectors.assets_with_content(
                organization_id=asset.organization_id, project_id=asset.project_id, sha256s=[received.sha256]
            )
            .exclude(pk=asset.pk)
            .first()
        )
        if earlier is not None:
            UrlImportItem.objects.filter(pk=item.pk).update(
                duplicate_of=selectors.duplicate_reason(earlier, session_id=session.pk)[:255], updated_at=timezone.now()
            )
            UploadSession.objects.filter(pk=session.pk).update(duplicate_count=F("duplicate_count") + 1)
            key, by_reference = asset.storage_key, asset.source == Asset.Source.REFERENCE
            asset_services.asset_events_record(
                assets=[asset], action=AssetEvent.Action.DELETED,
                reason=selectors.duplicate_reason(earlier, session_id=session.pk) + " The imported copy was dropped.",
            )
            Asset.objects.filter(pk=asset.pk).delete()
            if not by_reference:
                transaction.on_commit(lambda: storage.delete(key))
            session.refresh_from_db()
            upload_session_check_complete(session=session)
            return
        if not asset.move(Asset.Status.UPLOADED, size=received.size, sha256=received.sha256, content_type=identified.mime):
            return
    for batch in Batch.objects.filter(pk__in=item.batch_ids, project=project):
        batch_add_assets(batch=batch, asset_ids=[asset.pk], actor=asset.uploaded_by_id)
    asset_services.asset_queue_processing(asset=asset)


def removed_rows(session: UploadSession, since) -> list[str]:
    """Ids of rows dropped as duplicates since `since`, so an open session page takes them away."""
    items = UrlImportItem.objects.filter(url_import__session=session, asset__isnull=True).exclude(duplicate_of="")
    if since is not None:
        items = items.filter(updated_at__gte=since)
    return [str(ref) for ref in items.values_list("asset_ref", flat=True)]
