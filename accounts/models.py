import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> "ApiKeyQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A secret that lets one person's scripts call the public API (sent as `x-api-key`).

    The secret is shown once, when the key is created; only its sha256 is stored. A revoked key
    stops working at once, and so do the bearer tokens issued with it.
    """

    SECRET_PREFIX = "aup_"
    # last_used_at is written at most this often per key, so busy scripts do not write on every call.
    TOUCH_EVERY = timedelta(minutes=1)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    # The first characters of the secret, shown in lists to tell keys apart.
    prefix = models.CharField(max_length=16)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        # The table it had when it lived in portal/, kept so existing keys stay valid (docs/ARCHITECTURE.md).
        db_table = "portal_apikey"
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def new_secret() -> str:
        return ApiKey.SECRET_PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> bool:
        """Guarded: only the first revocation counts. Returns whether this call revoked the key."""
        now = timezone.now()
        done = ApiKey.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=now)
        if done:
            self.revoked_at = now
        return bool(done)

    def touch(self) -> None:
        """Records that the key was just used (at most once per TOUCH_EVERY)."""
        now = timezone.now()
        if self.last_used_at is not None and now - self.last_used_at < self.TOUCH_EVERY:
            return
        ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - self.TOUCH_EVERY), pk=self.pk).update(
            last_used_at=now
        )
        self.last_used_at = now
