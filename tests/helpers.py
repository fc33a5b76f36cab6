"""Small helpers shared by the view tests: building assets and reading the tables pages render."""

import re
from html.parser import HTMLParser

from assets.models import Asset


def asset_for(project, *, name: str = "street-001.jpg", **fields) -> Asset:
    """An unsaved asset of `project`; pass it to save() or to bulk_create()."""
    fields.setdefault("asset_type", Asset.Type.IMAGE)
    fields.setdefault("original_filename", name)
    return Asset(organization_id=project.organization_id, project=project, name=name, **fields)


def make_asset(project, **fields) -> Asset:
    asset = asset_for(project, **fields)
    asset.save()
    return asset


def bulk_assets(project, count: int, *, batch_size: int = 5000, **fields) -> None:
    """Creates `count` assets of `project` in batches, named asset-000001.jpg onwards."""
    for start in range(0, count, batch_size):
        Asset.objects.bulk_create(
            [asset_for(project, name=f"asset-{n:06d}.jpg", **fields) for n in range(start + 1, min(start + batch_size, count) + 1)],
            batch_size=batch_size,
        )


class _TableParser(HTMLParser):
    """Collects the header cells and body rows of every <table> of a page, as plain text."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._section = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"headers": [], "rows": []})
        elif tag in {"thead", "tbody"}:
            self._section = tag
        elif tag == "tr" and self.tables:
            self._row = []
        elif tag in {"td", "th"} and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in {"td", "th"} and self._cell is not None and self._row is not None:
            self._row.append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            key = "headers" if self._section == "thead" else "rows"
            if key == "headers":
                self.tables[-1]["headers"] = self._row
            else:
                self.tables[-1]["rows"].append(self._row)
            self._row = None
        elif tag in {"thead", "tbody"}:
            self._section = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str | bytes, *, table: int = 0) -> list[dict[str, str]]:
    """The body rows of the page's `table`-th table, each as {header text: cell text}."""
    parser = _TableParser()
    parser.feed(html.decode() if isinstance(html, bytes) else html)
    if len(parser.tables) <= table:
        return []
    found = parser.tables[table]
    return [dict(zip(found["headers"], row, strict=False)) for row in found["rows"]]


def text_of(html: str | bytes) -> str:
    """The page's text with tags dropped and whitespace collapsed, for phrases that span elements."""
    html = html.decode() if isinstance(html, bytes) else html
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
