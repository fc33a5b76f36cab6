from django.urls import path

from assets import batch_views, library_views, views

app_name = "assets"
urlpatterns = [
    path("assets/", library_views.library, name="library"),
    path("assets/<uuid:asset_id>/", views.library_asset_detail, name="library_detail"),
    path("assets/selection/", library_views.selection_change, name="selection"),
    path("assets/selection/move/", library_views.selection_move, name="selection_move"),
    path("assets/selection/batch/", library_views.selection_add_to_batch, name="selection_batch"),
    path("assets/selection/retry/", library_views.selection_retry, name="selection_retry"),
    path("assets/selection/delete/", library_views.selection_delete, name="selection_delete"),
    path("projects/<uuid:project_id>/assets/", views.asset_list, name="list"),
    path("projects/<uuid:project_id>/assets/<uuid:asset_id>/", views.asset_detail, name="detail"),
    path("projects/<uuid:project_id>/batches/", batch_views.batch_list, name="batches"),
    path("projects/<uuid:project_id>/batches/add-assets/", batch_views.batch_add_assets, name="batch_add_assets"),
    path("projects/<uuid:project_id>/batches/<uuid:batch_id>/", batch_views.batch_detail, name="batch_detail"),
]
