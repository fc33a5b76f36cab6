"""CSV files that people open in a spreadsheet: UTF-8 that Excel and LibreOffice both read, streamed row by row, and
no cell a spreadsheet would run as a formula (OWASP's CSV injection guidance)."""

import csv
from collections.abc import Iterable, Iterator

# Excel opens a double-clicked CSV as UTF-8 only when it starts with a byte order mark (without one it reads the
# system's legacy code page, and "café.jpg" becomes "cafÃ©.jpg"); LibreOffice detects UTF-8 either way.
BYTE_ORDER_MARK = "\ufeff"
# A cell that starts with one of these is read as a formula (=HYPERLINK(...), +, -, @) or shifts to one (tab, CR).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value) -> str | int:
    """The value as a cell no spreadsheet evaluates: text starting like a formula gets a leading apostrophe, which
    spreadsheets read as "this is text" and do not show. Whole numbers stay numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


class _Line:
    """What csv.writer writes to: hands back the line instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The CSV file line by line (for a StreamingHttpResponse): the byte order mark and the header, then one line per
    row, every cell quoted and made spreadsheet-safe. Memory stays constant however many rows there are."""
    writer = csv.writer(_Line(), quoting=csv.QUOTE_ALL)
    yield BYTE_ORDER_MARK + writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        yield writer.writerow([spreadsheet_safe(cell) for cell in row])
