"""The session page gives the browser Asset.Status's labels: rows upload.js paints read as the server's rows do."""

import json
import re
from pathlib import Path

from django.urls import reverse

from assets.models import Asset

JS_SOURCES = Path(__file__).resolve().parent.parent / "static" / "js"


def _data_block(html: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no data block #{element_id} on the page"
    return json.loads(match.group(1))


def test_the_session_page_carries_the_labels_of_asset_status(member_client, upload_session):
    response = member_client.get(reverse("uploads:detail", args=[upload_session.project_id, upload_session.pk]))

    assert response.status_code == 200
    assert dict(_data_block(response.content.decode(), "upload-statuses")) == dict(Asset.Status.choices)


def test_no_script_of_the_page_spells_a_status_label_itself():
    labels = {label for _, label in Asset.Status.choices}
    sources = sorted(JS_SOURCES.rglob("*.js"))

    spelled = [(path.name, label) for path in sources for label in labels if re.search(rf"[\"'`]{re.escape(label)}[\"'`]", path.read_text())]

    assert sources
    assert spelled == []
