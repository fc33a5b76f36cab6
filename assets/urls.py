from django.urls import path

from assets import batch_views, views

app_name = "assets"
urlpatterns = [
    path("assets/", views.library, name="library"),
    path("projects/<uuid:project_id>/assets/", views.asset_list, name="list"),
    path("projects/<uuid:project_id>/assets/<uuid:asset_id>/", views.asset_detail, name="detail"),
    path("projects/<uuid:project_id>/batches/", batch_views.batch_list, name="batches"),
    path("projects/<uuid:project_id>/batches/add-assets/", batch_views.batch_add_assets, name="batch_add_assets"),
    path("projects/<uuid:project_id>/batches/<uuid:batch_id>/", batch_views.batch_detail, name="batch_detail"),
]
