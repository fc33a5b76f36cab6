from django.contrib import admin

from assets.models import Asset, AssetEvent


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "asset_type", "status", "size", "created_at"]
    list_filter = ["status", "asset_type"]
    search_fields = ["name", "sha256", "external_id"]
    raw_id_fields = ["organization", "project", "upload_session", "uploaded_by"]
    readonly_fields = ["status", "status_changed_at"]


@admin.register(AssetEvent)
class AssetEventAdmin(admin.ModelAdmin):
    """The history, deleted assets' included (found by their id, `asset_ref`, or name): read only, it is an audit trail."""

    list_display = ["at", "asset_name", "action", "from_status", "to_status", "actor"]
    list_filter = ["action", "to_status"]
    search_fields = ["asset_name", "=asset_ref", "reason"]
    list_select_related = ["actor"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
