"""The one writer of spreadsheets (CSV and XLSX): every export of the portal goes through it.

Cells are typed by their column: times are written as date cells in Beijing time, numbers as numbers, ids
(question numbers and the like) and all other text as text cells. No cell can become a formula: text cells of
an XLSX are string cells (with Excel's quote prefix when the text starts like a formula), and CSV goes through
defusedcsv, which puts an apostrophe before a text that starts with = + - @ | % (tab and carriage return too,
here). Text loses the code points XML forbids (rows stored before the text door existed). The XLSX has a bold,
frozen header row, an autofilter over the table and widths fitted to the header and the first rows (a CJK
character counts two), capped so long titles do not make a sheet unreadable.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, islice
from typing import IO

from defusedcsv import csv

from portal.text import xml_safe
from portal.timeutil import to_beijing

TEXT, ID, TIME, NUMBER = "text", "id", "time", "number"
TIME_FORMAT = "yyyy-mm-dd hh:mm"
TIME_TEXT = "%Y-%m-%d %H:%M"
# Columns are fitted to the header and this many first rows (rows stream: the rest are never all in memory).
SAMPLE_ROWS = 200
MAX_WIDTH = 60
FORMULA_START = ("=", "+", "-", "@", "|", "%", "\t", "\r")

Value = str | int | float | datetime | None


@dataclass(frozen=True)
class Column:
    """One column: its header, what its cells are, and for numbers the format (Excel's and the text one)."""

    header: str
    kind: str = TEXT
    number_format: str = "0.0"
    text_format: str = "{:.1f}"


def _beijing(value: datetime) -> datetime:
    """A naive Beijing time (spreadsheets have no time zones), to the second."""
    return to_beijing(value).replace(tzinfo=None, microsecond=0)


def as_text(column: Column | None, value: Value) -> str:
    """A cell as text (CSV and the screen): times as 2026-11-25 14:30 Beijing time, numbers in the column's format."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_beijing(value).strftime(TIME_TEXT)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return column.text_format.format(value) if column is not None and column.kind == NUMBER else str(value)
    return xml_safe(str(value))


def text_row(columns: Sequence[Column], row: Sequence[Value]) -> list[str]:
    """A row as text cells."""
    return [as_text(columns[i] if i < len(columns) else None, value) for i, value in enumerate(row)]


def _defuse(value: str) -> str:
    # defusedcsv leaves a leading tab or carriage return alone; spreadsheets may still read what follows.
    return "'" + value if value[:1] in ("\t", "\r") else value


def _csv_row(columns: Sequence[Column], row: Sequence[Value]) -> list[str]:
    return [_defuse(cell) for cell in text_row(columns, row)]


def csv_chunks(columns: Sequence[Column], rows: Iterable[Sequence[Value]]) -> Iterator[str]:
    """The header and rows as CSV text, chunk by chunk (UTF-8 BOM first, for spreadsheet programs)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.header for c in columns])
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(_csv_row(columns, row))
        yield buffer.getvalue()


def write_csv(handle: IO[str], columns: Sequence[Column], rows: Iterable[Sequence[Value]]) -> None:
    """The header and rows as CSV into a text file opened with newline="" (the same bytes as `csv_chunks`)."""
    for chunk in csv_chunks(columns, rows):
        handle.write(chunk)


def display_width(value: str) -> int:
    """How many columns a text takes in a spreadsheet: wide (CJK) and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in value)


def _widths(columns: Sequence[Column], sample: list[Sequence[Value]]) -> list[float]:
    widths = []
    for i, column in enumerate(columns):
        if column.kind == TIME:
            content = len("2026-11-25 14:30")
        else:
            content = max((display_width(as_text(column, row[i])) for row in sample if i < len(row)), default=0)
        widths.append(min(max(content, display_width(column.header)) + 2, MAX_WIDTH))
    return widths


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def write_xlsx(handle: IO[bytes], title: str, columns: Sequence[Column], rows: Iterable[Sequence[Value]]) -> int:
    """The header and rows as one typed, filterable sheet (openpyxl write-only: rows stream, never all in
    memory); returns how many rows were written."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(xml_safe(title)[:31] or "Sheet1")
    rows = iter(rows)
    sample = list(islice(rows, SAMPLE_ROWS))
    for i, width in enumerate(_widths(columns, sample), start=1):
        sheet.column_dimensions[_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    bold, middle = Font(bold=True), Alignment(vertical="center")
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=xml_safe(column.header))
        cell.font, cell.alignment = bold, middle
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in chain(sample, rows):
        sheet.append([_xlsx_cell(sheet, columns[i] if i < len(columns) else None, v) for i, v in enumerate(row)])
        count += 1
    sheet.auto_filter.ref = f"A1:{_column_letter(len(columns))}{count + 1}"
    workbook.save(handle)
    return count


def _xlsx_cell(sheet, column: Column | None, value: Value):
    from openpyxl.cell import WriteOnlyCell

    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=_beijing(value))
        cell.number_format = TIME_FORMAT
        return cell
    if isinstance(value, int | float) and not isinstance(value, bool):
        cell = WriteOnlyCell(sheet, value=value)
        if column is not None and column.kind == NUMBER:
            cell.number_format = column.number_format
        return cell
    text = xml_safe(str(value))
    is_id = column is not None and column.kind == ID
    if not is_id and not text.startswith(FORMULA_START):
        return text  # a plain string cell: openpyxl writes it as one without a styled cell object (faster)
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"  # never a formula, whatever the text starts with
    if is_id:
        cell.number_format = "@"
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True  # Excel keeps it text even when the cell is edited
    return cell
