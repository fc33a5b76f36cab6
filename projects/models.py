import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


IMAGE_FORMATS = [
    ("JPEG", "JPEG"),
    ("PNG", "PNG"),
    ("WEBP", "WebP"),
    ("TIFF", "TIFF"),
    ("BMP", "BMP"),
    ("GIF", "GIF"),
]


def all_image_formats() -> list[str]:
    return [value for value, _ in IMAGE_FORMATS]


class Organization(models.Model):
    """A tenant: a customer's people, projects and assets."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet["Membership"]):
    def for_user(self, user) -> "MembershipQuerySet":
        return self.filter(user=user) if user.is_authenticated else self.none()

    def organizations_of(self, user) -> models.QuerySet:
        """The ids of the organizations `user` belongs to: the tenancy scope every user-facing query starts from."""
        return self.for_user(user).values("organization")

    def role_in(self, organization: str, user) -> models.Subquery:
        """`user`'s role in the organization the outer query names by `organization` (a field path), or NULL."""
        return models.Subquery(self.filter(organization=models.OuterRef(organization), user=user).values("role")[:1])


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        MANAGER = "manager", "Manager"
        UPLOADER = "uploader", "Uploader"
        VIEWER = "viewer", "Viewer"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.UPLOADER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_user_and_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


def role_can_upload(role: str) -> bool:
    return role in {Membership.Role.ADMIN, Membership.Role.MANAGER, Membership.Role.UPLOADER}


def role_can_manage(role: str) -> bool:
    """Managers and admins see and manage every upload session and the settings of a project."""
    return role in {Membership.Role.ADMIN, Membership.Role.MANAGER}


class ProjectQuerySet(models.QuerySet["Project"]):
    def for_user(self, user) -> "ProjectQuerySet":
        """The projects of the organizations `user` belongs to, each annotated with the user's `role`."""
        if not user.is_authenticated:
            return self.none()
        return self.annotate(role=Membership.objects.role_in("organization", user)).filter(role__isnull=False)


class Project(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    allow_images = models.BooleanField("Images", default=True)
    allow_videos = models.BooleanField("Videos", default=True)
    image_formats = models.JSONField(
        "Image formats",
        default=all_image_formats,
        help_text="Images in other formats are refused, whatever their file name says.",
    )
    allow_animated_images = models.BooleanField(
        "Take animated images",
        default=True,
        help_text="APNG, animated GIF and animated WebP; the first frame becomes the thumbnail. When off, they are"
        " refused and the reason says the image is animated.",
    )
    require_camera_metadata = models.BooleanField(
        "Require camera metadata (EXIF) on images",
        default=False,
        help_text="Images without camera EXIF metadata are refused with a reason.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="project_name_unique_in_org")
        ]

    def __str__(self) -> str:
        return self.name

    def accepts(self, asset_type: str) -> bool:
        """Whether the project takes assets of `asset_type` ("image" or "video")."""
        return {"image": self.allow_images, "video": self.allow_videos}.get(asset_type, False)

    def accepts_image_format(self, image_format: str) -> bool:
        """Whether images of `image_format` (Pillow's name: JPEG, PNG, ...) may join the project."""
        return image_format in self.image_formats

    @property
    def image_format_labels(self) -> list[str]:
        return [label for value, label in IMAGE_FORMATS if value in self.image_formats]

    @property
    def asset_types(self) -> list[str]:
        return [t for t in ("image", "video") if self.accepts(t)]


def _invitation_token() -> str:
    return secrets.token_urlsafe(32)


class Invitation(models.Model):
    """An email invitation to join an organization with a role; accepted once, before it expires."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Membership.Role.choices, default=Membership.Role.UPLOADER)
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Withdrawn by an admin before anyone used it (sent to the wrong address, or no longer wanted).
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def expires_at(self):
        return self.created_at + timedelta(days=settings.INVITATION_EXPIRY_DAYS)

    def is_usable(self) -> bool:
        """An invitation can be accepted once, until it expires or an admin withdraws it."""
        return self.accepted_at is None and self.revoked_at is None and timezone.now() < self.expires_at

    def is_for(self, user) -> bool:
        """Whether `user` is the person invited: their account's email is the invited address, letter case aside.

        The link may have been forwarded; only the address it was sent to proves who received it (docs/SECURITY.md).
        """
        return bool(user.email) and user.email.casefold() == self.email.casefold()

    @property
    def email_hint(self) -> str:
        """The invited address with its name part hidden (a…@example.com), to show to someone signed in as another."""
        name, _, domain = self.email.partition("@")
        return f"{name[:1]}…@{domain}"

    def mark_accepted(self, user) -> bool:
        """Guarded: only the first acceptance of an invitation still standing counts. Returns whether this call accepted it."""
        now = timezone.now()
        done = Invitation.objects.filter(pk=self.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(
            accepted_at=now, accepted_by=user
        )
        if done:
            self.accepted_at, self.accepted_by = now, user
        return bool(done)

    def revoke(self) -> bool:
        """Guarded: withdraws an invitation nobody accepted yet; its link stops working. Returns whether this call did."""
        now = timezone.now()
        done = Invitation.objects.filter(pk=self.pk, accepted_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
        if done:
            self.revoked_at = now
        return bool(done)


class Profile(models.Model):
    """A person's preferences; created on first use (`Profile.for_user`)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    email_own_sessions = models.BooleanField(
        "Email me when my uploads finish", default=True, help_text="One email per upload session, on success or failure."
    )
    email_managed_sessions = models.BooleanField(
        "Email me when anyone's upload finishes in projects I manage",
        default=False,
        help_text="For managers and admins who review every upload session.",
    )

    @classmethod
    def for_user(cls, user) -> "Profile":
        return cls.objects.get_or_create(user=user)[0]


class Batch(models.Model):
    """A group of input records of one project: assets sent on together (seed 001's batches of a workflow)."""

    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="batches")
    name = models.CharField(max_length=120)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    is_enabled = models.BooleanField("Enabled", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at", "-id"], name="batch_project_recent")]

    def __str__(self) -> str:
        return self.name


class Record(models.Model):
    """One asset in a batch, on its way through annotation (seed 001's input records)."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in-progress", "In progress"
        COMPLETE = "complete", "Complete"
        EXCEPTION = "exception", "Exception"
        CANCELED = "canceled", "Canceled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="records")
    asset = models.ForeignKey("assets.Asset", on_delete=models.CASCADE, related_name="records")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["batch", "asset"], name="one_record_per_asset_and_batch")]
        indexes = [
            models.Index(fields=["batch", "-created_at", "-id"], name="record_batch_recent"),
            models.Index(fields=["batch", "status", "-created_at"], name="record_batch_status"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} in {self.batch_id}"
