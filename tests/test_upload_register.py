"""Registering the files of one drop in an upload session: upload, duplicate or rejected, per file."""

import base64
import hashlib
import io
import json
import time

import pytest
from django.urls import reverse

from assets import storage
from assets.models import Asset
from tests.helpers import make_asset, text_of
from uploads.models import UploadSession
from uploads.services import UploadRefused, upload_session_register

S = Asset.Status


def _sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _file(name: str = "street-001.jpg", *, size: int = 2048, content_type: str = "image/jpeg", sha256: str | None = None, **extra) -> dict:
    return {"name": name, "size": size, "contentType": content_type, "sha256": sha256 or _sha(name), **extra}


def _register(session, *files, user=None) -> list:
    return upload_session_register(session=session, user=user or session.created_by, files=list(files))


def _outcomes(results) -> list[tuple[str, str]]:
    return [(result.name, result.outcome) for result in results]


@pytest.fixture
def register_url(upload_session):
    return reverse("uploads:register", args=[upload_session.project_id, upload_session.pk])


def _post(client, url, files) -> tuple[int, dict]:
    response = client.post(url, data=json.dumps({"files": files}), content_type="application/json")
    return response.status_code, response.json()


# --- files that go on to upload -----------------------------------------------------------------


def test_a_new_file_is_registered_as_uploading_with_its_declared_details(upload_session, member):
    sha = _sha("street-001")

    [result] = _register(upload_session, _file("street-001.jpg", size=4096, sha256=sha.upper()))

    assert result.outcome == "upload"
    asset = Asset.objects.get(upload_session=upload_session)
    assert result.asset.pk == asset.pk
    assert (asset.name, asset.original_filename, asset.size, asset.sha256) == ("street-001.jpg", "street-001.jpg", 4096, sha)
    assert (asset.status, asset.asset_type, asset.content_type) == (S.UPLOADING, "image", "image/jpeg")
    assert (asset.project_id, asset.organization_id, asset.uploaded_by_id) == (
        upload_session.project_id, upload_session.project.organization_id, member.pk
    )
    assert asset.storage_key.startswith(f"assets/{asset.organization_id}/{asset.pk}/")
    assert asset.storage_key.endswith(".jpg")


def test_the_endpoint_answers_per_file_with_the_sessions_fill(member_client, register_url, upload_session, settings):
    settings.UPLOAD_SESSION_MAX_FILES = 50
    make_asset(upload_session.project, name="before.jpg", sha256=_sha("dup"), status=S.READY)

    status, body = _post(member_client, register_url, [
        _file("a.jpg", clientId="uppy-a"),
        _file("b.jpg", sha256=_sha("dup"), clientId="uppy-b"),
        _file("c.jpg", size=0, clientId="uppy-c"),
    ])

    assert status == 200
    assert [(f["clientId"], f["name"], f["outcome"]) for f in body["files"]] == [
        ("uppy-a", "a.jpg", "upload"),
        ("uppy-b", "b.jpg", "duplicate"),
        ("uppy-c", "c.jpg", "rejected"),
    ]
    assert body["files"][1]["duplicateOf"] == "before.jpg"
    assert body["files"][2]["reason"] == "The file is empty (0 bytes)."
    assert (body["duplicates"], body["held"], body["max"]) == (1, 1, 50)
    asset = Asset.objects.get(upload_session=upload_session)
    assert (body["files"][0]["assetId"], body["files"][0]["key"]) == (str(asset.pk), asset.storage_key)


# --- duplicates ------------------------------------------------------------------------------------


def test_the_same_content_twice_in_one_drop_is_one_upload_and_one_duplicate(upload_session):
    same = _sha("same bytes")

    results = _register(upload_session, _file("first.jpg", sha256=same), _file("copy of first.jpg", sha256=same))

    assert _outcomes(results) == [("first.jpg", "upload"), ("copy of first.jpg", "duplicate")]
    assert results[1].reason == "The same file is already in this drop."
    assert list(Asset.objects.filter(upload_session=upload_session).values_list("name", flat=True)) == ["first.jpg"]
    upload_session.refresh_from_db()
    assert upload_session.duplicate_count == 1


@pytest.mark.parametrize("status", [S.UPLOADING, S.UPLOADED, S.PENDING_PREPROCESSING, S.READY])
def test_content_already_in_the_session_is_a_duplicate(upload_session, status):
    [first] = _register(upload_session, _file("first.jpg", sha256=_sha("x")))
    Asset.objects.filter(pk=first.asset.pk).update(status=status)

    [result] = _register(upload_session, _file("again.jpg", sha256=_sha("x")))

    assert (result.outcome, result.duplicate_of) == ("duplicate", "first.jpg")
    assert "already in this session as “first.jpg”" in result.reason
    assert Asset.objects.filter(upload_session=upload_session).count() == 1
    upload_session.refresh_from_db()
    assert upload_session.duplicate_count == 1


@pytest.mark.parametrize("status", [S.UPLOADING, S.UPLOADED, S.PREPROCESSING, S.READY])
def test_content_of_a_live_asset_of_another_session_of_the_project_is_a_duplicate(upload_session, member, status):
    earlier = UploadSession.objects.create(
        project=upload_session.project, created_by=member, asset_type="image", view_name="Earlier", capture_date="2026-11-01"
    )
    make_asset(upload_session.project, name="earlier.jpg", sha256=_sha("x"), status=status, upload_session=earlier)

    [result] = _register(upload_session, _file("again.jpg", sha256=_sha("x")))

    assert (result.outcome, result.duplicate_of) == ("duplicate", "earlier.jpg")
    assert result.reason == "The same file is already in the project as “earlier.jpg”."
    assert not Asset.objects.filter(upload_session=upload_session).exists()


def test_content_already_in_the_organizations_library_is_a_duplicate(upload_session, organization):
    Asset.objects.create(organization=organization, project=None, name="library.jpg", asset_type="image", sha256=_sha("x"), status=S.READY)

    [result] = _register(upload_session, _file("again.jpg", sha256=_sha("x")))

    assert (result.outcome, result.duplicate_of) == ("duplicate", "library.jpg")
    upload_session.refresh_from_db()
    assert upload_session.duplicate_count == 1


def test_duplicates_are_counted_on_the_session_across_drops(upload_session):
    make_asset(upload_session.project, name="old.jpg", sha256=_sha("old"), status=S.READY)

    _register(upload_session, _file("a.jpg", sha256=_sha("a")), _file("a2.jpg", sha256=_sha("a")), _file("old2.jpg", sha256=_sha("old")))
    Asset.objects.filter(name="a.jpg").update(status=S.UPLOADED)
    _register(upload_session, _file("a3.jpg", sha256=_sha("a")), _file("b.jpg"))

    upload_session.refresh_from_db()
    assert upload_session.duplicate_count == 3
    assert sorted(Asset.objects.filter(upload_session=upload_session).values_list("name", flat=True)) == ["a.jpg", "b.jpg"]


def test_a_failed_asset_of_another_session_is_not_a_duplicate(upload_session, member):
    earlier = UploadSession.objects.create(
        project=upload_session.project, created_by=member, asset_type="image", view_name="Earlier", capture_date="2026-11-01"
    )
    make_asset(upload_session.project, name="broken.jpg", sha256=_sha("x"), status=S.UPLOAD_ERROR,
               error_reason="The transfer failed.", upload_session=earlier)

    [result] = _register(upload_session, _file("again.jpg", sha256=_sha("x")))

    assert result.outcome == "upload"
    assert Asset.objects.get(upload_session=upload_session).name == "again.jpg"


def test_the_same_content_in_another_project_or_organization_is_not_a_duplicate(upload_session, organization, owner, other_project):
    sibling = upload_session.project.__class__.objects.create(organization=organization, name="Aerial survey", created_by=owner)
    make_asset(sibling, name="sibling.jpg", sha256=_sha("x"), status=S.READY)
    make_asset(other_project, name="globex.jpg", sha256=_sha("y"), status=S.READY)
    Asset.objects.create(organization=other_project.organization, project=None, name="globex-lib.jpg", asset_type="image",
                         sha256=_sha("z"), status=S.READY)

    results = _register(upload_session, _file("x.jpg", sha256=_sha("x")), _file("y.jpg", sha256=_sha("y")), _file("z.jpg", sha256=_sha("z")))

    assert [r.outcome for r in results] == ["upload", "upload", "upload"]


def test_a_failed_file_of_the_same_session_is_retried_in_place(upload_session):
    [first] = _register(upload_session, _file("street.jpg", sha256=_sha("x")))
    asset = first.asset
    old_key = asset.storage_key
    assert asset.mark_upload_error("The transfer failed. Retry to upload it again.")

    [result] = _register(upload_session, _file("street (renamed).jpg", sha256=_sha("x")))

    assert result.outcome == "upload"
    assert result.asset.pk == asset.pk
    asset.refresh_from_db()
    assert asset.status == S.UPLOADING
    assert asset.error_reason == ""
    assert asset.storage_key != old_key
    assert result.as_dict()["key"] == asset.storage_key
    assert Asset.objects.filter(upload_session=upload_session).count() == 1
    upload_session.refresh_from_db()
    assert upload_session.duplicate_count == 0


def test_a_file_of_the_session_still_uploading_is_sent_again_under_a_fresh_key(
    upload_session, settings, django_capture_on_commit_callbacks
):
    """The tab that was sending it was closed or reloaded: adding the file again, with "resume", is how people resume it."""
    settings.UPLOAD_MULTIPART_THRESHOLD = 5 * 1024**2
    small, large = _register(upload_session, _file("street.jpg", sha256=_sha("x")), _file("long.mp4", size=6 * 1024**2, content_type="image/jpeg"))
    old_small, old_large = small.asset.storage_key, large.asset.storage_key
    storage.write(old_small, io.BytesIO(b"the first bytes"))
    upload_id = storage.multipart_start(old_large)

    with django_capture_on_commit_callbacks(execute=True):
        results = _register(
            upload_session,
            _file("street.jpg", sha256=_sha("x"), resume=True),
            _file("long.mp4", size=6 * 1024**2, content_type="image/jpeg", resume=True),
        )

    assert [(r.outcome, r.asset.pk) for r in results] == [("upload", small.asset.pk), ("upload", large.asset.pk)]
    small.asset.refresh_from_db()
    assert small.asset.status == S.UPLOADING
    assert small.asset.storage_key != old_small
    assert results[0].as_dict()["key"] == small.asset.storage_key
    assert Asset.objects.filter(upload_session=upload_session).count() == 2
    upload_session.refresh_from_db()
    assert upload_session.duplicate_count == 0
    # What the abandoned transfers left under the old keys is gone.
    assert storage.stored_size(old_small) is None
    assert storage.multipart_part_numbers(old_large, upload_id) is None


def test_a_file_that_arrived_while_it_was_being_added_again_stays_as_it_is(upload_session, monkeypatch):
    [first] = _register(upload_session, _file("street.jpg", sha256=_sha("x")))
    key = first.asset.storage_key
    # The verification lands between the registration's read and its update.
    real = Asset.rekey_upload

    def arrived_first(asset, **fields):
        Asset.objects.filter(pk=asset.pk).update(status=S.UPLOADED)
        return real(asset, **fields)

    monkeypatch.setattr(Asset, "rekey_upload", arrived_first)

    [result] = _register(upload_session, _file("street.jpg", sha256=_sha("x"), resume=True))

    assert (result.outcome, result.reason) == ("rejected", "This file changed status meanwhile; reload the page.")
    assert Asset.objects.get(pk=first.asset.pk).storage_key == key


# --- rejected files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"size": 0}, "The file is empty (0 bytes)."),
        ({"size": "12"}, "The file's size is missing or not a whole number of bytes."),
        ({"sha256": "abc123"}, "The file's sha256 is missing or is not 64 hexadecimal characters."),
        ({"sha256": "g" * 64}, "The file's sha256 is missing or is not 64 hexadecimal characters."),
        ({"contentType": "text/plain"}, "This session takes images; the file is declared as text/plain."),
        ({"contentType": "video/mp4"}, "This session takes images; the file is declared as video/mp4."),
        ({"name": ""}, "The file has no name."),
    ],
    ids=["empty", "size-not-a-number", "short-sha256", "non-hex-sha256", "text", "video-in-image-session", "no-name"],
)
def test_a_file_that_cannot_be_taken_is_rejected_with_the_reason(upload_session, fields, reason):
    results = _register(upload_session, {**_file("bad.jpg"), **fields}, _file("good.jpg"))

    assert [(r.outcome, r.reason) for r in results] == [("rejected", reason), ("upload", "")]
    assert list(Asset.objects.filter(upload_session=upload_session).values_list("name", flat=True)) == ["good.jpg"]


def test_a_file_over_the_size_limit_is_rejected_naming_the_limit(upload_session, settings):
    settings.UPLOAD_MAX_FILE_SIZE = 10 * 1024**2

    results = _register(
        upload_session,
        _file("huge.jpg", size=25 * 1024**2),
        _file("just-over.jpg", size=10 * 1024**2 + 1),
        _file("at-limit.jpg", size=10 * 1024**2),
    )

    assert [r.outcome for r in results] == ["rejected", "rejected", "upload"]
    assert results[0].reason == "The file is 25.0\xa0MB; the largest file the portal takes is 10.0\xa0MB."
    assert list(Asset.objects.values_list("name", flat=True)) == ["at-limit.jpg"]


def test_a_drop_over_the_per_drop_limit_is_refused_whole(member_client, register_url, upload_session, settings):
    assert settings.UPLOAD_MAX_FILES_PER_DROP == 100

    status, body = _post(member_client, register_url, [_file(f"f{n}.jpg") for n in range(101)])

    assert status == 400
    assert body["error"] == (
        "101 files were added at once; add at most 100 at a time, then the next ones. Nothing from this drop was added."
    )
    assert not Asset.objects.exists()
    assert _post(member_client, register_url, [_file(f"f{n}.jpg") for n in range(100)])[0] == 200


def test_an_empty_drop_is_refused(upload_session):
    with pytest.raises(UploadRefused, match="Send at least one file."):
        _register(upload_session)


# --- the session cap -----------------------------------------------------------------------------


def test_a_drop_that_would_take_the_session_past_its_cap_is_refused_whole(member_client, register_url, upload_session, settings):
    settings.UPLOAD_SESSION_MAX_FILES = 5
    _register(upload_session, *[_file(f"f{n}.jpg") for n in range(3)])

    status, body = _post(member_client, register_url, [_file(f"g{n}.jpg") for n in range(3)])

    assert status == 409
    assert body["error"] == (
        "A session holds at most 5 files. This one has 3, so 2 more fit and this drop adds 3. "
        "Nothing from this drop was added: drop at most 2 files here, and start a new session for the rest."
    )
    assert Asset.objects.filter(upload_session=upload_session).count() == 3
    assert _post(member_client, register_url, [_file(f"g{n}.jpg") for n in range(2)])[0] == 200
    assert Asset.objects.filter(upload_session=upload_session).count() == 5


def test_duplicates_and_rejections_do_not_count_against_the_cap(upload_session, settings):
    settings.UPLOAD_SESSION_MAX_FILES = 2
    _register(upload_session, _file("a.jpg"))
    Asset.objects.filter(name="a.jpg").update(status=S.UPLOADED)  # arrived: the same content again is a duplicate

    results = _register(upload_session, _file("a again.jpg", sha256=_sha("a.jpg")), _file("empty.jpg", size=0), _file("b.jpg"))

    assert [r.outcome for r in results] == ["duplicate", "rejected", "upload"]
    assert Asset.objects.filter(upload_session=upload_session).count() == 2


def test_the_1501st_file_is_refused_with_the_cap_and_a_new_session_suggested(member_client, register_url, upload_session, settings):
    assert settings.UPLOAD_SESSION_MAX_FILES == 1500
    Asset.objects.bulk_create(
        [
            Asset(organization_id=upload_session.project.organization_id, project=upload_session.project, upload_session=upload_session,
                  name=f"f{n:04d}.jpg", original_filename=f"f{n:04d}.jpg", asset_type="image", sha256=_sha(f"f{n}"), size=1)
            for n in range(1500)
        ],
        batch_size=500,
    )

    status, body = _post(member_client, register_url, [_file("one-more.jpg")])

    assert status == 409
    assert "A session holds at most 1,500 files. This one has 1,500, so 0 more fit" in body["error"]
    assert "start a new session" in body["error"]
    assert Asset.objects.filter(upload_session=upload_session).count() == 1500
    assert not Asset.objects.filter(name="one-more.jpg").exists()


# --- drops registered in parts, as the browser finishes each checksum ------------------------------


def _part(session, drop_id: str, size: int, *files, user=None) -> list:
    return upload_session_register(
        session=session, user=user or session.created_by, files=list(files), drop={"id": drop_id, "size": size}
    )


def test_the_first_part_of_a_drop_keeps_room_for_the_whole_drop(member_client, register_url, upload_session, settings):
    settings.UPLOAD_SESSION_MAX_FILES = 10
    _part(upload_session, "drop-a", 6, _file("a0.jpg"), _file("a1.jpg"))

    # Another tab's drop finds 2 files here and 4 on their way: 4 more fit, not 5.
    status, body = _post(member_client, register_url, [_file(f"b{n}.jpg") for n in range(5)])
    assert status == 409
    assert body["error"].startswith(
        "A session holds at most 10 files. This one has 2 (4 more are on their way from drops still being prepared), "
        "so 4 more fit and this drop adds 5."
    )

    # The rest of the first drop still fits, whoever came in between.
    results = _part(upload_session, "drop-a", 6, *[_file(f"a{n}.jpg") for n in range(2, 6)])
    assert [r.outcome for r in results] == ["upload"] * 4
    assert Asset.objects.filter(upload_session=upload_session).count() == 6
    upload_session.refresh_from_db()
    assert upload_session.drop_reservations == {}, "a drop fully registered keeps no room"
    assert _post(member_client, register_url, [_file(f"b{n}.jpg") for n in range(4)])[0] == 200


def test_a_drop_that_does_not_fit_is_refused_whole_at_its_first_part(member_client, register_url, upload_session, settings):
    settings.UPLOAD_SESSION_MAX_FILES = 5
    _register(upload_session, *[_file(f"f{n}.jpg") for n in range(3)])

    response = member_client.post(
        register_url, data=json.dumps({"files": [_file("g0.jpg")], "drop": {"id": "drop-b", "size": 3}}),
        content_type="application/json",
    )

    assert response.status_code == 409
    assert "so 2 more fit and this drop adds 3. Nothing from this drop was added" in response.json()["error"]
    upload_session.refresh_from_db()
    assert Asset.objects.filter(upload_session=upload_session).count() == 3
    assert upload_session.drop_reservations == {}


def test_duplicates_in_a_drop_give_their_room_back_as_its_parts_arrive(upload_session, settings):
    settings.UPLOAD_SESSION_MAX_FILES = 4
    _register(upload_session, _file("a.jpg"))
    Asset.objects.filter(name="a.jpg").update(status=S.UPLOADED)  # arrived: the same content again is a duplicate

    first = _part(upload_session, "drop-c", 3, _file("a copy.jpg", sha256=_sha("a.jpg")))
    assert first[0].outcome == "duplicate"
    upload_session.refresh_from_db()
    assert [entry[0] for entry in upload_session.drop_reservations.values()] == [2]
    _part(upload_session, "drop-c", 3, _file("b.jpg"), _file("c.jpg"))

    assert [r.outcome for r in _register(upload_session, _file("d.jpg"))] == ["upload"]


def test_the_room_of_a_drop_abandoned_half_way_is_given_back_after_a_while(upload_session, settings):
    settings.UPLOAD_SESSION_MAX_FILES = 4
    settings.UPLOAD_DROP_RESERVATION_SECONDS = 60
    _part(upload_session, "drop-d", 4, _file("a.jpg"))  # the tab was closed after the first part
    upload_session.refresh_from_db()
    [(files_to_come, expires)] = upload_session.drop_reservations.values()
    assert files_to_come == 3 and 55 < expires - time.time() <= 60
    with pytest.raises(UploadRefused):
        _register(upload_session, _file("b.jpg"), _file("c.jpg"))

    # A minute later the reservation has run out.
    UploadSession.objects.filter(pk=upload_session.pk).update(drop_reservations={"drop-d": [3, time.time() - 1]})

    assert [r.outcome for r in _register(upload_session, _file("b.jpg"), _file("c.jpg"))] == ["upload", "upload"]


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ({"id": "", "size": 2}, "The drop's id is missing or longer than 64 characters."),
        ({"id": "x" * 65, "size": 2}, "The drop's id is missing or longer than 64 characters."),
        ({"id": "d", "size": 0}, "The drop's size is missing or smaller than the files sent with it."),
        ({"id": "d", "size": "two"}, "The drop's size is missing or smaller than the files sent with it."),
        ({"id": "d", "size": 101}, "101 files were added at once; add at most 100 at a time"),
        ("drop", "The drop's id is missing or longer than 64 characters."),
    ],
)
def test_a_malformed_drop_announcement_is_refused(member_client, register_url, upload_session, drop, message):
    response = member_client.post(
        register_url, data=json.dumps({"files": [_file("a.jpg")], "drop": drop}), content_type="application/json"
    )

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Asset.objects.filter(upload_session=upload_session).exists()


def test_a_drop_into_a_finalized_session_is_refused(member_client, register_url, upload_session):
    assert upload_session.mark_finalized()

    status, body = _post(member_client, register_url, [_file("late.jpg")])

    assert status == 409
    assert body["error"] == "This session was finalized: start a new session to add more files."
    assert not Asset.objects.exists()


# --- names are display data -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("/var/www/html/index.jpg", "index.jpg"),
        ("C:\\Users\\bob\\Pictures\\street.jpg", "street.jpg"),
        ("camera/../../../street.jpg", "street.jpg"),
        ("  spaced.jpg  ", "spaced.jpg"),
    ],
)
def test_a_file_name_is_kept_as_a_bare_display_name(upload_session, sent, stored):
    [result] = _register(upload_session, _file(sent))

    asset = Asset.objects.get(upload_session=upload_session)
    assert (result.name, asset.name, asset.original_filename) == (stored, stored, stored)
    assert stored not in asset.storage_key
    assert ".." not in asset.storage_key


def test_an_html_file_name_is_shown_escaped_on_the_session_page(member_client, upload_session):
    name = '<img src=x onerror="alert(1)">.jpg'
    _register(upload_session, _file(name))

    response = member_client.get(upload_session.get_absolute_url())

    assert response.status_code == 200
    assert Asset.objects.get(upload_session=upload_session).name == name
    assert b'<img src=x onerror="alert(1)">' not in response.content
    assert b"&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.jpg" in response.content


# --- transfer instructions ------------------------------------------------------------------------------


def test_a_file_below_the_multipart_threshold_gets_one_signed_put(upload_session, settings):
    settings.UPLOAD_MULTIPART_THRESHOLD = 8 * 1024**2
    sha = _sha("small")

    [result] = _register(upload_session, _file("small.png", size=8 * 1024**2 - 1, content_type="image/png", sha256=sha))

    instructions = result.as_dict()
    assert "multipart" not in instructions
    put = instructions["put"]
    assert put["method"] == "PUT"
    assert put["headers"] == {
        "Content-Type": "image/png",
        "x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(sha)).decode(),
    }
    assert put["url"].startswith(reverse("storage:object", kwargs={"key": result.asset.storage_key}) + "?")
    assert f"sha256={sha}" in put["url"]
    assert f"size={8 * 1024**2 - 1}" in put["url"]


def test_a_file_at_or_above_the_multipart_threshold_goes_in_parts(upload_session, settings):
    settings.UPLOAD_MULTIPART_THRESHOLD = 8 * 1024**2
    settings.UPLOAD_PART_SIZE = 5 * 1024**2

    results = _register(upload_session, _file("at.jpg", size=8 * 1024**2), _file("big.jpg", size=3 * 1024**3))

    for result in results:
        instructions = result.as_dict()
        assert "put" not in instructions
        assert instructions["multipart"] == {"partSize": 5 * 1024**2}
        assert (instructions["assetId"], instructions["key"]) == (str(result.asset.pk), result.asset.storage_key)


def test_the_register_endpoint_returns_instructions_the_storage_endpoint_accepts(member_client, register_url):
    data = b"\xff\xd8\xff\xe0 not really a jpeg"
    entry = _file("real.jpg", size=len(data), sha256=hashlib.sha256(data).hexdigest())

    _, body = _post(member_client, register_url, [entry])
    put = body["files"][0]["put"]
    response = member_client.generic("PUT", put["url"], data=data, content_type=put["headers"]["Content-Type"],
                                     headers={"x-amz-checksum-sha256": put["headers"]["x-amz-checksum-sha256"]})

    assert response.status_code == 200
    assert storage.stored_size(body["files"][0]["key"]) == len(data)


def test_the_session_page_lists_registered_files(member_client, upload_session):
    _register(upload_session, _file("north-1.jpg", size=2048), _file("north-2.jpg", size=4096))

    text = text_of(member_client.get(upload_session.get_absolute_url()).content)

    assert "north-1.jpg 2.0 KB" in text
    assert "north-2.jpg 4.0 KB" in text
