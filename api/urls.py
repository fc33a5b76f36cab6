from django.urls import path

from api import api
from api.docs import api_docs

urlpatterns = [
    path("docs", api_docs, name="api_docs"),
    path("", api.urls),
]
