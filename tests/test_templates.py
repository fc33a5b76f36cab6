"""Rules every template follows."""

from pathlib import Path

from django.conf import settings


def test_every_template_comment_ends_on_its_own_line():
    # Django's {# #} comment ends with its line: one spread over two lines is printed on the page.
    unclosed = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}"
        for path in sorted(Path(settings.BASE_DIR, "templates").rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "{#" in line and "#}" not in line.split("{#", 1)[1]
    ]
    assert unclosed == []
