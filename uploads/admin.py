from django.contrib import admin

from uploads.models import UploadSession


@admin.register(UploadSession)
class UploadSessionAdmin(admin.ModelAdmin):
    list_display = ["view_name", "project", "asset_type", "source", "status", "created_by", "created_at"]
    list_filter = ["status", "source"]
