import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from datetime import UTC, datetime

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from assets import storage
from projects.models import Membership

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AssetQuerySet(models.QuerySet["Asset"]):
    def for_user(self, user) -> "AssetQuerySet":
        """Assets of the organizations `user` belongs to: the one scope every user-facing query starts from."""
        return self.filter(organization__in=Membership.objects.organizations_of(user))


class Asset(models.Model):
    """One image or video file and where it stands on its way to being ready for annotation."""

    class Status(models.TextChoices):
        UPLOADING = "uploading", "Uploading"
        UPLOADED = "uploaded", "Uploaded"
        UPLOAD_ERROR = "upload_error", "Upload Error"
        PENDING_PREPROCESSING = "pending_preprocessing", "Pending Pre-Processing"
        PREPROCESSING = "preprocessing", "Pre-Processing"
        RECOVERING_PREPROCESSING = "recovering_preprocessing", "Recovering Pre-Processing"
        READY = "ready", "Ready"

    class Type(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"

    class Source(models.TextChoices):
        FILE = "file", "File upload"
        URL = "url", "URL import"
        REFERENCE = "reference", "Bucket reference"

    # Which statuses each status may move to (docs/ARCHITECTURE.md, "Status machine"). Upload Error goes back to Uploading on retry.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.UPLOADING: frozenset({Status.UPLOADED, Status.UPLOAD_ERROR}),
        Status.UPLOADED: frozenset({Status.READY, Status.PENDING_PREPROCESSING, Status.UPLOAD_ERROR}),
        Status.PENDING_PREPROCESSING: frozenset({Status.PREPROCESSING, Status.UPLOAD_ERROR}),
        Status.PREPROCESSING: frozenset({Status.READY, Status.RECOVERING_PREPROCESSING, Status.UPLOAD_ERROR}),
        Status.RECOVERING_PREPROCESSING: frozenset({Status.PREPROCESSING, Status.UPLOAD_ERROR}),
        Status.UPLOAD_ERROR: frozenset({Status.UPLOADING}),
        Status.READY: frozenset(),
    }
    TERMINAL = frozenset({Status.READY, Status.UPLOAD_ERROR})
    RETIRED_KEYS_KEPT = 20

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("projects.Organization", on_delete=models.CASCADE, related_name="assets")
    # Null for an asset registered through the API without a project: it sits in the organization's library.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, null=True, blank=True, related_name="assets"
    )
    upload_session = models.ForeignKey(
        "uploads.UploadSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="assets"
    )
    name = models.CharField(max_length=255)
    original_filename = models.CharField(max_length=255)
    asset_type = models.CharField(max_length=8, choices=Type.choices)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.FILE)
    source_url = models.URLField(max_length=2048, blank=True)
    storage_key = models.CharField(max_length=512, blank=True)
    # Keys earlier transfer attempts of this asset were signed for (newest last, at most RETIRED_KEYS_KEPT): a late
    # transfer to one of them is deleted, and only such a key, never one a client merely names (docs/SECURITY.md).
    retired_keys = models.JSONField(default=list, blank=True)
    # The S3 multipart upload of the current transfer attempt, when the file goes in parts.
    upload_id = models.CharField(max_length=1024, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    media_metadata = models.JSONField(default=dict, blank=True)
    context_data = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    thumbnail_key = models.CharField(max_length=512, blank=True)
    # The H.264 MP4 made for frame-accurate playback, beside the untouched original ("" when not needed).
    rendition_key = models.CharField(max_length=512, blank=True)
    # Preprocessing claims: which worker run holds the video, its last sign of life, and how many runs it took.
    processing_token = models.CharField(max_length=32, blank=True)
    processing_heartbeat_at = models.DateTimeField(null=True, blank=True)
    processing_attempts = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.UPLOADING)
    error_reason = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assets"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(default=timezone.now)

    objects = AssetQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at", "-id"], name="asset_project_recent"),
            models.Index(fields=["project", "status", "-created_at"], name="asset_project_status"),
            models.Index(fields=["project", "asset_type", "-created_at"], name="asset_project_type"),
            models.Index(fields=["project", "uploaded_by", "-created_at"], name="asset_project_uploader"),
            models.Index(fields=["organization", "sha256"], name="asset_org_sha256"),
            models.Index(fields=["project", "sha256"], name="asset_project_sha256"),
            models.Index(fields=["upload_session", "sha256"], name="asset_session_sha256"),
            models.Index(fields=["organization", "-created_at"], name="asset_org_recent"),
            models.Index(fields=["upload_session", "updated_at"], name="asset_session_changes"),
            models.Index(fields=["storage_key"], name="asset_storage_key"),
            # Daily upload quotas count a person's files since midnight (uploads/quotas.py).
            models.Index(fields=["uploaded_by", "-created_at"], name="asset_uploader_recent"),
            # Files still Uploading: a person's through the API (their cap), and the abandoned ones (uploads/cleanup.py).
            models.Index(
                fields=["uploaded_by"],
                condition=models.Q(status="uploading", upload_session__isnull=True),
                name="asset_api_uploading",
            ),
            models.Index(fields=["status_changed_at"], condition=models.Q(status="uploading"), name="asset_uploading_since"),
            # A session's files per status, read from the index alone (COUNT(id) needs the id: included where the database
            # can): the session page's summary on every poll, the Uploads tab's counts (docs/CAPACITY.md, "Indexes").
            models.Index(fields=["upload_session", "status"], include=["id"], name="asset_session_status"),
            # The orphan sweep asks which stored objects any asset refers to, by all three keys (storage_sweep_orphans).
            models.Index(fields=["thumbnail_key"], name="asset_thumbnail_key"),
            models.Index(fields=["rendition_key"], name="asset_rendition_key"),
            # Videos being processed, for the stalled-preprocessing sweep (assets_recover_stalled): a few rows of millions.
            models.Index(
                fields=["status", "status_changed_at"],
                condition=models.Q(status__in=["preprocessing", "recovering_preprocessing"]),
                name="asset_processing",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def thumbnail_url(self) -> str:
        """A short-lived URL of the thumbnail (videos: the poster), or "" before processing made one."""
        if not self.thumbnail_key:
            return ""
        # Thumbnails and posters are JPEGs the portal made itself.
        return storage.presign(
            "get", self.thumbnail_key, content_type="image/jpeg", inline=True, expires=settings.DOWNLOAD_URL_EXPIRY_SECONDS
        )["url"]

    @property
    def is_reference(self) -> bool:
        """Imported by reference: the original stays in the customer's bucket and is read there."""
        return self.source == self.Source.REFERENCE

    @property
    def verified_content_type(self) -> str:
        """The content type verification read from the bytes; "" before (the declared one is only the uploader's word)."""
        return self.content_type if self.status not in {self.Status.UPLOADING, self.Status.UPLOAD_ERROR} else ""

    @property
    def original_available(self) -> bool:
        """The original can be downloaded: its bytes arrived and were verified (before that, or after a failure, the
        stored object may be missing, partial or deleted)."""
        return bool(self.storage_key) and self.status not in {self.Status.UPLOADING, self.Status.UPLOAD_ERROR}

    def file_url(self, key: str = "") -> str:
        """A short-lived URL of a stored file of the asset (default: the original). The original the uploader sent is
        served as a download, with the type verification established (or application/octet-stream); the rendition the
        portal made plays inline (docs/SECURITY.md). <img> and <video> show either."""
        key = key or self.storage_key
        filename = self.original_filename if key == self.storage_key else None
        made_here = key == self.rendition_key
        content_type = "video/mp4" if made_here else self.verified_content_type if key == self.storage_key else ""
        if self.is_reference and key == self.storage_key:
            # The original stays in the customer's bucket and is signed there (storage.register_reference_reader).
            return storage.original_url(
                self, filename=filename, content_type=content_type, expires=settings.DOWNLOAD_URL_EXPIRY_SECONDS
            )
        return storage.presign(
            "get", key, filename=filename, content_type=content_type, inline=made_here,
            expires=settings.DOWNLOAD_URL_EXPIRY_SECONDS,
        )["url"]

    @property
    def playback_url(self) -> str:
        """What a browser plays frame-accurately: the rendition when one was made, else the original."""
        return self.file_url(self.rendition_key or self.storage_key)

    @property
    def version(self) -> str:
        """The row's version for pages that poll it ("seconds.microseconds" of its last change)."""
        since_epoch = self.updated_at - _EPOCH
        return f"{since_epoch.days * 86400 + since_epoch.seconds}.{since_epoch.microseconds:06d}"

    @property
    def status_label(self) -> str:
        """The status as people read it ("Upload Error"); what get_status_display gives, without its per-call lookup."""
        return _STATUS_LABELS.get(self.status, self.status)

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    def move(self, to: str, *, reason: str = "", only_if: dict | None = None, actor_id: int | None = None, **fields) -> bool:
        """Moves the asset to status `to` with one guarded UPDATE, and records the move in its history.

        The UPDATE only matches while the row still holds a status that may move to `to` (and the
        extra conditions of `only_if`), so two workers, a retried request or a late browser callback
        can never move a file backwards or twice. Returns whether this call made the move; on
        success the instance is updated too, and an AssetEvent says who (`actor_id`; None for the
        portal's workers) moved it from what to what and why. A move that did not happen records nothing.
        """
        sources = [status for status, targets in self.TRANSITIONS.items() if to in targets]
        now = timezone.now()
        changes = {"status": to, "status_changed_at": now, "updated_at": now, "error_reason": reason, **fields}
        with AssetEvent.saved_together():
            moved = Asset.objects.filter(pk=self.pk, status__in=sources, **(only_if or {})).update(**changes)
            if moved:
                action = AssetEvent.Action.RETRIED if to == self.Status.UPLOADING else AssetEvent.Action.STATUS
                AssetEvent.objects.record([
                    AssetEvent.about(self, action=action, actor_id=actor_id, at=now, to_status=to, reason=reason)
                ])
        if moved:
            for field, value in changes.items():
                if not hasattr(value, "resolve_expression"):
                    setattr(self, field, value)
        return bool(moved)

    def mark_uploaded(self) -> bool:
        """The stored object exists and has the declared size."""
        return self.move(self.Status.UPLOADED)

    def mark_upload_error(self, reason: str) -> bool:
        """Any failure before the asset is ready; `reason` is shown to people as it is."""
        if not reason:
            raise ValueError("An Upload Error always carries a reason.")
        return self.move(self.Status.UPLOAD_ERROR, reason=reason)

    def mark_ready(self, **fields) -> bool:
        return self.move(self.Status.READY, **fields)

    def queue_preprocessing(self) -> bool:
        return self.move(self.Status.PENDING_PREPROCESSING)

    def start_preprocessing(self, token: str) -> bool:
        """Claims the video for one worker run (from Pending or Recovering Pre-Processing), with a first heartbeat."""
        return self.move(
            self.Status.PREPROCESSING,
            processing_token=token,
            processing_heartbeat_at=timezone.now(),
            processing_attempts=F("processing_attempts") + 1,
        )

    def beat(self, token: str) -> bool:
        """The claiming run is alive; False once the claim was lost (recovered and handed to another run)."""
        return bool(
            Asset.objects.filter(pk=self.pk, status=self.Status.PREPROCESSING, processing_token=token).update(
                processing_heartbeat_at=timezone.now()
            )
        )

    def finish_preprocessing(self, token: str, **fields) -> bool:
        """Pre-Processing -> Ready, only for the run that still holds the claim."""
        return self.move(self.Status.READY, only_if={"processing_token": token}, processing_token="", **fields)

    def mark_recovering(self, *, stalled_before) -> bool:
        """Pre-Processing -> Recovering Pre-Processing when the claiming run stopped beating before `stalled_before`."""
        return self.move(
            self.Status.RECOVERING_PREPROCESSING,
            only_if={"processing_heartbeat_at__lt": stalled_before},
            processing_token="",
        )

    def _retiring(self) -> list[str]:
        """The retired keys once the current key joins them."""
        return [*(self.retired_keys or []), self.storage_key][-self.RETIRED_KEYS_KEPT:] if self.storage_key else list(self.retired_keys or [])

    def restart_upload(self, *, storage_key: str = "", actor_id: int | None = None, **fields) -> bool:
        """Retry: back to Uploading from Upload Error, usually with a fresh storage key (then the old key is retired)."""
        if storage_key:
            fields |= {"storage_key": storage_key, "retired_keys": self._retiring()}
        return self.move(self.Status.UPLOADING, actor_id=actor_id, **fields)

    def rekey_upload(self, *, storage_key: str, actor_id: int | None = None) -> bool:
        """A file still Uploading is sent again under a fresh key (the transfer under the old one was abandoned), and
        the old key is retired. Guarded on Uploading and on the old key: a file whose bytes arrived meanwhile keeps
        them, and of two rekeys at once only one takes effect. Recorded in its history as sent again."""
        now = timezone.now()
        retired = self._retiring()
        with AssetEvent.saved_together():
            changed = Asset.objects.filter(pk=self.pk, status=self.Status.UPLOADING, storage_key=self.storage_key).update(
                storage_key=storage_key, upload_id="", retired_keys=retired, updated_at=now
            )
            if changed:
                AssetEvent.objects.record([
                    AssetEvent.about(self, action=AssetEvent.Action.RESUMED, actor_id=actor_id, at=now, to_status=self.status)
                ])
        if changed:
            self.storage_key, self.upload_id, self.retired_keys, self.updated_at = storage_key, "", retired, now
        return bool(changed)

    def record_upload_id(self, upload_id: str) -> bool:
        """Records the multipart upload of the current transfer attempt, once; True when `upload_id` is the recorded
        one (now or before). Parts and the completion are signed for that upload only (docs/SECURITY.md)."""
        if self.upload_id:
            return self.upload_id == upload_id
        recorded = Asset.objects.filter(
            pk=self.pk, status=self.Status.UPLOADING, storage_key=self.storage_key, upload_id=""
        ).update(upload_id=upload_id)
        if recorded:
            self.upload_id = upload_id
        return bool(recorded)


_STATUS_LABELS: dict[str, str] = dict(Asset.Status.choices)

# The events of the innermost AssetEvent.collecting() block, or None outside one.
_collected: ContextVar[list["AssetEvent"] | None] = ContextVar("asset_events_collected", default=None)


class AssetEventQuerySet(models.QuerySet["AssetEvent"]):
    def record(self, events: list["AssetEvent"]) -> None:
        """Saves events in one INSERT, or keeps them for the end of the AssetEvent.collecting() block around the call."""
        if not events:
            return
        collected = _collected.get()
        if collected is not None:
            collected.extend(events)
        else:
            self.bulk_create(events)


class AssetEvent(models.Model):
    """One line of an asset's history: who (a person, or the portal's workers when `actor` is empty) did what, when,
    from which status to which, and why.

    Kept when the asset is deleted (docs/ARCHITECTURE.md, "Asset history"): `asset` is emptied, and
    `asset_ref` and `asset_name` still say which asset it was.
    """

    class Action(models.TextChoices):
        ADDED = "added", "Added"
        STATUS = "status", "Status changed"
        RETRIED = "retried", "Retried"
        RESUMED = "resumed", "Sent again"
        MOVED = "moved", "Moved"
        ADDED_TO_BATCH = "added_to_batch", "Added to a batch"
        CANCELLED = "cancelled", "Cancelled"
        DELETED = "deleted", "Deleted"

    # Emptied in one UPDATE when assets are deleted (Django does not load the events to do it).
    asset = models.ForeignKey(Asset, on_delete=models.SET_NULL, null=True, blank=True, related_name="events", db_index=False)
    asset_ref = models.UUIDField()
    asset_name = models.CharField(max_length=255)
    organization = models.ForeignKey("projects.Organization", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    # Statuses as the mover read them; "" when the action did not change the status.
    from_status = models.CharField(max_length=32, choices=Asset.Status.choices, blank=True)
    to_status = models.CharField(max_length=32, choices=Asset.Status.choices, blank=True)
    reason = models.TextField(blank=True)

    objects = AssetEventQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            # An asset's history in order; also what the database reads to empty `asset` when assets are deleted.
            models.Index(fields=["asset", "at", "id"], name="assetevent_asset_at"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_name}: {self.get_action_display()} at {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def actor_label(self) -> str:
        """Who did it, as the history page says it."""
        if self.actor is not None:
            return self.actor.get_full_name() or self.actor.username
        # Workers move files on their own; any other action without a person was by someone since removed.
        return "The portal" if self.action == self.Action.STATUS else "A person no longer in the organization"

    @property
    def changed_status(self) -> bool:
        return bool(self.to_status) and self.to_status != self.from_status

    @classmethod
    def about(cls, asset: Asset, *, action: str, actor_id: int | None = None, at=None, to_status: str = "",
              reason: str = "") -> "AssetEvent":
        """An event about `asset` as it stands (its status is the event's `from_status`, unless it was just added), not
        saved yet."""
        return cls(
            asset_id=asset.pk, asset_ref=asset.pk, asset_name=asset.name, organization_id=asset.organization_id,
            at=at or timezone.now(), actor_id=actor_id, action=action,
            # An asset just added had no status before.
            from_status="" if action == cls.Action.ADDED else asset.status or "",
            to_status=to_status, reason=reason,
        )

    @staticmethod
    def saved_together() -> AbstractContextManager:
        """Around a change and the recording of its event: one transaction, so neither is saved without the other (no
        savepoint, so no extra query inside a caller's transaction). Inside collecting() the event is saved later."""
        return nullcontext() if _collected.get() is not None else transaction.atomic(savepoint=False)

    @staticmethod
    @contextmanager
    def collecting() -> Iterator[list["AssetEvent"]]:
        """Within the block, events are kept and saved together at its end in one INSERT (a drop of 1,500 files, a
        batch of verifications), instead of one INSERT each. Use it inside the transaction of the moves it collects,
        or around moves that commit one by one; an error inside a transaction that must roll back saves nothing."""
        events: list[AssetEvent] = []
        token = _collected.set(events)
        failed = False
        try:
            yield events
        except BaseException:
            failed = True
            raise
        finally:
            _collected.reset(token)
            if events and not (failed and transaction.get_connection().needs_rollback):
                AssetEvent.objects.bulk_create(events)

