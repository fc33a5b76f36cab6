from django.urls import path

from portal.api import api
from portal.api.docs import api_docs

urlpatterns = [
    path("docs", api_docs, name="api_docs"),
    path("", api.urls),
]
