from django.urls import path

from assets.storage.views import storage_object

app_name = "storage"
urlpatterns = [path("storage/<path:key>", storage_object, name="object")]
