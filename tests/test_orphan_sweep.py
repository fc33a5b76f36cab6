"""The sweep of orphaned objects (assets.services.storage_sweep_orphans, run by the clean-up beat): a stored object no
asset refers to is deleted once it is older than STORAGE_ORPHAN_AGE_SECONDS; what assets refer to stays."""

import io
from datetime import timedelta

from django.utils import timezone

from assets import storage
from assets.models import Asset
from assets.services import storage_sweep_orphans
from uploads.cleanup import uploads_clean_up

LATER = timedelta(days=2)  # past the default age of a day


def _ready_asset(project) -> Asset:
    asset = Asset.objects.create(organization=project.organization, project=project, name="gate.jpg", asset_type="image",
                                 status=Asset.Status.READY)
    asset.storage_key = storage.key_for(asset)
    asset.thumbnail_key = f"{asset.storage_key}.thumb.jpg"
    asset.save()
    storage.write(asset.storage_key, io.BytesIO(b"original"))
    storage.write(asset.thumbnail_key, io.BytesIO(b"thumbnail"))
    return asset


def test_objects_no_asset_refers_to_are_deleted_once_old_enough(storage_backend, project):
    asset = _ready_asset(project)
    # What an old signed PUT sent again after its file was sealed writes, and what a deleted asset left.
    late_put = storage.new_key(organization_id=asset.organization_id, asset_id=asset.pk, extension=".jpg")
    left_over = storage.new_key(organization_id=asset.organization_id, asset_id="0" * 32)
    for key in (late_put, left_over):
        storage.write(key, io.BytesIO(b"nobody's"))

    assert storage_sweep_orphans() == 0  # all of it was written just now
    assert storage_sweep_orphans(now=timezone.now() + LATER) == 2

    assert (storage.stored_size(late_put), storage.stored_size(left_over)) == (None, None)
    assert storage.stored_size(asset.storage_key) == len(b"original")
    assert storage.stored_size(asset.thumbnail_key) == len(b"thumbnail")


def test_the_file_of_a_transfer_in_progress_is_kept_however_old(storage_backend, project, member):
    uploading = Asset.objects.create(organization=project.organization, project=project, name="slow.mp4", asset_type="video")
    uploading.storage_key = storage.key_for(uploading)
    uploading.save()
    storage.write(uploading.storage_key, io.BytesIO(b"still arriving"))

    assert storage_sweep_orphans(now=timezone.now() + LATER) == 0
    assert storage.stored_size(uploading.storage_key) is not None


def test_the_clean_up_counts_the_orphans_it_deleted(project):
    asset = _ready_asset(project)
    storage.write(storage.new_key(organization_id=asset.organization_id, asset_id=asset.pk), io.BytesIO(b"x"))

    assert uploads_clean_up(now=timezone.now() + LATER)["orphans"] == 1
