from django.contrib import admin

from assets.models import Asset


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "asset_type", "status", "size", "created_at"]
    list_filter = ["status", "asset_type"]
    search_fields = ["name", "sha256", "external_id"]
    raw_id_fields = ["organization", "project", "upload_session", "uploaded_by"]
    readonly_fields = ["status", "status_changed_at"]
