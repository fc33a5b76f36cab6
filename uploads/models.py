import time
import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from assets.models import Asset
from projects.models import Membership
from uploads.errors import UploadRefused


class UploadSessionQuerySet(models.QuerySet["UploadSession"]):
    def for_user(self, user) -> "UploadSessionQuerySet":
        """Sessions of the organizations `user` belongs to (the Uploads tab narrows this further by role)."""
        return self.filter(organization__in=Membership.objects.organizations_of(user))

    def with_file_counts(self) -> "UploadSessionQuerySet":
        """Each session with `file_count` and `count_<status>` for every asset status, in the same query."""
        per_status = {
            f"count_{status}": models.Count("assets", filter=models.Q(assets__status=status)) for status in Asset.Status.values
        }
        return self.annotate(file_count=models.Count("assets"), **per_status)

    def unfinished_of(self, user) -> "UploadSessionQuerySet":
        """`user`'s own sessions that hold files and are not complete yet (still open, or processing), newest first,
        in every project of the organizations they belong to, with their file counts: the header's Uploads menu."""
        return (
            self.for_user(user)
            .filter(created_by=user)
            .exclude(status=UploadSession.Status.COMPLETE)
            .with_file_counts()
            .filter(file_count__gt=0)
            .order_by("-created_at")
        )


class UploadSession(models.Model):
    """One batch of files brought in at once from the Add Assets panel, into a project or, without one, into the
    organization's library."""

    # A session takes one type of asset: the asset's own choices.
    AssetType = Asset.Type

    class Source(models.TextChoices):
        DIRECT = "direct", "Direct file upload"
        CSV = "csv", "CSV file of URLs"
        JSON = "json", "JSON file of URLs"

    class Status(models.TextChoices):
        OPEN = "open", "In progress"
        FINALIZED = "finalized", "Processing"
        COMPLETE = "complete", "Complete"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("projects.Organization", on_delete=models.CASCADE, related_name="upload_sessions")
    # Null for a session opened from the Assets page without a project: its files join the organization's library.
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, null=True, blank=True, related_name="upload_sessions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="upload_sessions"
    )
    asset_type = models.CharField(max_length=8, choices=AssetType.choices)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.DIRECT)
    view_name = models.CharField(max_length=120)
    capture_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    # Files skipped because their content was already in the project or the session (they make no asset).
    duplicate_count = models.PositiveIntegerField(default=0)
    # Room kept for drops still being registered part by part: {drop id: [files still to come, expiry (Unix time)]}.
    # Read and written only under the session row's lock (uploads.services.upload_session_register).
    drop_reservations = models.JSONField(default=dict, blank=True)
    # Files taken out of the session lately (cancelled transfers): {asset id: [Unix time, the object key it had]}, so that
    # other pages polling the session take their rows away too, and a transfer landing late is deleted under exactly
    # the key the portal had issued. Written only under the session row's lock (see record_removed).
    removed_files = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finalized_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the completion email was handed to the mail server (claimed before sending, released on failure).
    notified_at = models.DateTimeField(null=True, blank=True)

    objects = UploadSessionQuerySet.as_manager()

    # How long a removed file is remembered: a page that has not polled for longer keeps its row until it reloads.
    REMOVED_FILES_KEPT_SECONDS = 3600

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["project", "status", "-created_at"], name="session_project_status"),
            models.Index(fields=["project", "created_by", "-created_at"], name="session_project_owner"),
            models.Index(fields=["organization", "created_by", "-created_at"], name="session_org_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.view_name} ({self.capture_date:%Y-%m-%d})"

    def save(self, *args, **kwargs):
        # A project's session belongs to the project's organization, whatever the caller passed.
        if self.project_id is not None:
            self.organization_id = self.project.organization_id
        super().save(*args, **kwargs)

    @property
    def in_library(self) -> bool:
        """Opened without a project: its files join the organization's library."""
        return self.project_id is None

    def url(self, name: str = "detail") -> str:
        """The address of one of the session's pages or protocol requests ("detail", "register", "sign"...): under
        its project, or under its organization's library."""
        if self.project_id is None:
            return reverse(f"uploads:library_{name}", args=[self.organization_id, self.pk])
        return reverse(f"uploads:{name}", args=[self.project_id, self.pk])

    def get_absolute_url(self) -> str:
        return self.url("detail")

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    def files_held(self) -> int:
        """How many files the session holds now (one query)."""
        return Asset.objects.filter(upload_session=self).count()

    @staticmethod
    def room(*, held: int, kept_for_others: int = 0) -> int:
        """How many more files fit under UPLOAD_SESSION_MAX_FILES, beside `held` and the room kept for drops still coming."""
        return max(settings.UPLOAD_SESSION_MAX_FILES - held - kept_for_others, 0)

    def check_room(self, *, held: int, adding: int, kept_for_others: int = 0, source: str = "drop") -> None:
        """The session cap, the one check every door makes (the browser's drops, URL lists): refuses adding `adding`
        files past UPLOAD_SESSION_MAX_FILES, saying how many fit. Call it with the session row locked, in the
        transaction that adds the files, with `held` counted under that lock."""
        room = self.room(held=held, kept_for_others=kept_for_others)
        if adding <= room:
            return
        pending = f" ({kept_for_others:,} more are on their way from drops still being prepared)" if kept_for_others else ""
        verb = "adds" if source == "drop" else "has"
        advice = f"drop at most {room:,} files here" if source == "drop" else f"choose a {source} of at most {room:,} files"
        raise UploadRefused(
            f"A session holds at most {settings.UPLOAD_SESSION_MAX_FILES:,} files. This one has {held:,}{pending}, so "
            f"{room:,} more fit and this {source} {verb} {adding:,}. Nothing from this {source} was added: {advice}, "
            "and start a new session for the rest.",
            status=409,
        )

    def mark_finalized(self) -> bool:
        """Open -> finalized, once: no file joins after this. Returns whether this call did it."""
        now = timezone.now()
        done = UploadSession.objects.filter(pk=self.pk, status=self.Status.OPEN).update(
            status=self.Status.FINALIZED, finalized_at=now
        )
        if done:
            self.status, self.finalized_at = self.Status.FINALIZED, now
        return bool(done)

    def record_removed(self, asset_ids, *, keys: dict | None = None) -> None:
        """Remembers files taken out of the session, for the pages polling it, with the object key each had (`keys`:
        {asset id: key}), and forgets those removed more than REMOVED_FILES_KEPT_SECONDS ago. Call it with the session
        row locked."""
        now = time.time()
        keys = {str(asset_id): key for asset_id, key in (keys or {}).items()}
        recent = {
            asset_id: entry for asset_id, entry in (self.removed_files or {}).items()
            if _removed_at(entry) > now - self.REMOVED_FILES_KEPT_SECONDS
        }
        recent |= {str(asset_id): [now, keys.get(str(asset_id), "")] for asset_id in asset_ids}
        # One removal takes at most the files the session holds; older ones give way first.
        newest = sorted(recent.items(), key=lambda entry: _removed_at(entry[1]))[-settings.UPLOAD_SESSION_MAX_FILES:]
        self.removed_files = dict(newest)
        UploadSession.objects.filter(pk=self.pk).update(removed_files=self.removed_files)

    def removed_since(self, since: datetime) -> list[str]:
        """Ids of the files taken out of the session at or after `since`."""
        cut = since.timestamp()
        return [asset_id for asset_id, entry in (self.removed_files or {}).items() if _removed_at(entry) >= cut]

    def removed_key(self, asset_id: str) -> str:
        """The object key a file taken out of the session had when it was removed ("" when unknown)."""
        entry = (self.removed_files or {}).get(str(asset_id))
        return entry[1] if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], str) else ""

    def mark_complete(self) -> bool:
        """Finalized -> complete, once, when every file is terminal. Returns whether this call did it."""
        now = timezone.now()
        done = UploadSession.objects.filter(pk=self.pk, status=self.Status.FINALIZED).update(
            status=self.Status.COMPLETE, completed_at=now
        )
        if done:
            self.status, self.completed_at = self.Status.COMPLETE, now
        return bool(done)


def _removed_at(entry) -> float:
    """When a file was removed: entries are [time, key] (or a bare time, as sessions written before keys were kept)."""
    at = entry[0] if isinstance(entry, list) and entry else entry
    return at if isinstance(at, (int, float)) else 0.0


class StorageIntegration(models.Model):
    """An organization's own bucket (Amazon S3 or S3-compatible, Google Cloud Storage, or an Azure Blob Storage
    container), whose files are imported by reference: read, never copied.

    The secret (S3 secret key, GCS service-account JSON key, Azure SAS token or account key) is kept encrypted
    (`uploads.integrations`) and never shown again once saved.
    """

    class Provider(models.TextChoices):
        S3 = "s3", "Amazon S3 or S3-compatible"
        GCS = "gcs", "Google Cloud Storage"
        AZURE = "azure", "Azure Blob Storage"

    class Credential(models.TextChoices):
        ACCESS_KEY = "access_key", "Access key"
        SERVICE_ACCOUNT = "service_account", "Service-account key"
        SAS_TOKEN = "sas_token", "SAS token"
        ACCOUNT_KEY = "account_key", "Account key"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey("projects.Organization", on_delete=models.CASCADE, related_name="storage_integrations")
    name = models.CharField(max_length=120)
    provider = models.CharField(max_length=8, choices=Provider.choices, default=Provider.S3)
    # Empty for the cloud itself (AWS: the region names it; GCS: storage.googleapis.com; Azure: the account's
    # blob.core.windows.net); set for MinIO and other S3-compatible stores, and for emulators.
    endpoint_url = models.URLField("Endpoint URL", max_length=500, blank=True)
    region = models.CharField(max_length=40, default="us-east-1")
    # The bucket (S3, GCS) or the container (Azure).
    bucket = models.CharField(max_length=222)
    prefix = models.CharField(max_length=500, blank=True)
    # Azure only: the storage account.
    account = models.CharField("Storage account", max_length=24, blank=True)
    credential = models.CharField(max_length=16, choices=Credential.choices, default=Credential.ACCESS_KEY)
    # Who the credential is, shown in the list (never secret): S3's access key id, the GCS service account's email.
    access_key_id = models.CharField("Access key ID", max_length=254, blank=True)
    secret_encrypted = models.TextField(editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The outcome of the last Validate: when it passed, or why it failed.
    validated_at = models.DateTimeField(null=True, blank=True)
    validation_error = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="integration_name_unique_in_org")]

    def __str__(self) -> str:
        return self.name

    @property
    def bucket_noun(self) -> str:
        return "container" if self.provider == self.Provider.AZURE else "bucket"

    @property
    def azure_account_url(self) -> str:
        """The Azure account's blob endpoint: the one set (Azurite: http://127.0.0.1:10000/devstoreaccount1), or Azure's."""
        return self.endpoint_url or f"https://{self.account}.blob.core.windows.net"

    @property
    def location(self) -> str:
        """Where the files are, for people: gs://bucket/prefix, the Azure container's URL, s3://bucket/prefix (endpoint or region)."""
        if self.provider == self.Provider.GCS:
            return f"gs://{self.bucket}/{self.prefix}" + (f" ({self.endpoint_url})" if self.endpoint_url else "")
        if self.provider == self.Provider.AZURE:
            return f"{self.azure_account_url}/{self.bucket}/{self.prefix}"
        where = self.endpoint_url or f"AWS {self.region}"
        return f"s3://{self.bucket}/{self.prefix} ({where})"

    @property
    def credential_shown(self) -> str:
        """What the list may show of the credential: who it is (key id, service account), or only its kind."""
        return self.access_key_id or self.get_credential_display()


class UrlImport(models.Model):
    """A CSV or JSON list of remote files for one session, parsed and previewed before anything is fetched."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSON = "json", "JSON"

    class Status(models.TextChoices):
        PREVIEW = "preview", "Waiting for confirmation"
        STARTED = "started", "Started"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(UploadSession, on_delete=models.CASCADE, related_name="url_imports")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    file_name = models.CharField(max_length=255)
    list_format = models.CharField(max_length=4, choices=Format.choices)
    # Set when the list names objects of a private bucket: they are read through it, never copied.
    integration = models.ForeignKey(
        StorageIntegration, on_delete=models.PROTECT, null=True, blank=True, related_name="url_imports"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PREVIEW)
    # Data rows in the file (header and blank lines not counted).
    row_count = models.PositiveIntegerField(default=0)
    # The good rows, ready to become assets: {"line", "url", "name", ...}.
    rows = models.JSONField(default=list)
    # The bad rows: {"line", "reason"}.
    problems = models.JSONField(default=list)
    imported_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.file_name

    def mark_started(self, imported: int) -> bool:
        """Preview -> started, once (a second confirmation changes nothing). Returns whether this call did it."""
        now = timezone.now()
        done = UrlImport.objects.filter(pk=self.pk, status=self.Status.PREVIEW).update(
            status=self.Status.STARTED, started_at=now, imported_count=imported
        )
        if done:
            self.status, self.started_at, self.imported_count = self.Status.STARTED, now, imported
        return bool(done)


class UrlImportItem(models.Model):
    """One row of a started import: the asset it became, where its bytes come from and how far fetching got."""

    url_import = models.ForeignKey(UrlImport, on_delete=models.CASCADE, related_name="items")
    # Null once the row turned out to be a duplicate: the asset was dropped, like a duplicate in a drop.
    asset = models.OneToOneField(
        "assets.Asset", on_delete=models.SET_NULL, null=True, blank=True, related_name="import_item"
    )
    # The asset's id, kept after a duplicate is dropped so open session pages can take its row away.
    asset_ref = models.UUIDField()
    line = models.PositiveIntegerField()
    url = models.TextField()
    # Batches (ids) the asset joins once its file arrived.
    batch_ids = models.JSONField(default=list)
    bytes_received = models.BigIntegerField(default=0)
    # Why the last attempt did not finish while another one is coming (shown beside "Uploading").
    note = models.CharField(max_length=500, blank=True)
    duplicate_of = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["line"]
        indexes = [models.Index(fields=["url_import", "updated_at"], name="import_item_changes")]

    def __str__(self) -> str:
        return f"line {self.line}: {self.url}"
