from django.urls import path

from assets import views

app_name = "assets"
urlpatterns = [
    path("projects/<uuid:project_id>/assets/", views.asset_list, name="list"),
    path("projects/<uuid:project_id>/assets/<uuid:asset_id>/", views.asset_detail, name="detail"),
]
