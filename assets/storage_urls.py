from django.urls import path

from assets.storage_views import storage_object

app_name = "storage"
urlpatterns = [path("storage/<path:key>", storage_object, name="object")]
