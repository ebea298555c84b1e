"""The rules for one CSV row of bars, checked exactly with Decimal, and the words of every refusal.

`read_rows` applies them line by line to a whole file: the reader of record for files the vectorised
reader (csv_import) cannot map line by line, and the judge of every line that reader flags.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from engine.market_time import DAILY, EXCHANGE_TZ, day_start

DATE_COLUMNS = ("date", "datetime", "time", "timestamp")
PRICE_COLUMNS = ("open", "high", "low", "close")
US_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")
PRICE_STEP, VOLUME_STEP = Decimal("0.000001"), Decimal("0.01")  # the Bar model's decimal places
PRICE_LIMIT, VOLUME_LIMIT = Decimal(10) ** 12, Decimal(10) ** 18  # the Bar model's max digits
ERRORS_SHOWN = 20


@dataclass(frozen=True)
class BarRow:
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class CsvImportError(ValueError):
    """The file was refused; `errors` holds one message per problem, with its line number."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        hidden = len(errors) - ERRORS_SHOWN
        super().__init__("\n".join(errors[:ERRORS_SHOWN] + ([f"... and {hidden} more"] if hidden > 0 else [])))


def read_rows(lines: Iterable[str], timeframe: str) -> list[BarRow]:
    """Every row of a file, checked line by line; raises CsvImportError listing every bad line."""
    reader = csv.reader(lines)
    rows: list[BarRow] = []
    errors: list[str] = []
    first_line_of: dict[datetime, int] = {}
    columns = None
    try:
        for record in reader:
            if is_blank(record):
                continue
            if columns is None:
                columns = header_columns(record, reader.line_num)
                continue
            try:
                row = check_row(record, columns, timeframe)
            except ValueError as error:
                errors.append(f"line {reader.line_num}: {error}")
                continue
            if row.time in first_line_of:
                errors.append(repeat_error(reader.line_num, row.time, first_line_of[row.time]))
                continue
            first_line_of[row.time] = reader.line_num
            rows.append(row)
    except csv.Error as error:
        errors.append(f"line {reader.line_num}: {error}")
    if errors:
        raise CsvImportError(errors)
    if not rows:
        raise CsvImportError(["no bars in the file"])
    return rows


def is_blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def repeat_error(line: int, time: datetime, first_line: int) -> str:
    return f"line {line}: {time.isoformat()} repeats line {first_line}"


def header_columns(header: list[str], line: int) -> dict[str, int]:
    """The position of each needed column (date, open, high, low, close, volume); the first of a repeated name."""
    positions = {name.strip().lower(): index for index, name in reversed(list(enumerate(header)))}
    date_column = next((name for name in DATE_COLUMNS if name in positions), None)
    missing = [name.title() for name in (*PRICE_COLUMNS, "volume") if name not in positions]
    if date_column is None:
        missing.insert(0, "Date")
    if missing:
        raise CsvImportError([f"line {line}: missing column(s) {', '.join(missing)} in header {header}"])
    return {"date": positions[date_column]} | {name: positions[name] for name in (*PRICE_COLUMNS, "volume")}


def check_row(record: list[str], columns: dict[str, int], timeframe: str) -> BarRow:
    needed = max(columns.values()) + 1
    if len(record) < needed:
        raise ValueError(f"expected at least {needed} fields, found {len(record)}")
    time = _bar_time(record[columns["date"]], timeframe)
    open_, high, low, close = (_price(name, record[columns[name]]) for name in PRICE_COLUMNS)
    volume = _number("volume", record[columns["volume"]])
    if volume < 0:
        raise ValueError(f"volume {volume} is negative")
    if volume >= VOLUME_LIMIT:
        raise ValueError(f"volume {volume} is too large")
    if high < low:
        raise ValueError(f"high {high} is below low {low}")
    for name, price in (("open", open_), ("close", close)):
        if not low <= price <= high:
            raise ValueError(f"{name} {price} is outside the bar's range {low}..{high}")
    return BarRow(time, open_, high, low, close, volume.quantize(VOLUME_STEP))


def _number(name: str, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{name} {text.strip()!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} {text.strip()!r} is not a number")
    return value


def _price(name: str, text: str) -> Decimal:
    value = _number(name, text)
    if value >= PRICE_LIMIT:
        raise ValueError(f"{name} {value} is too large")
    value = value.quantize(PRICE_STEP)
    if value <= 0:
        raise ValueError(f"{name} {text.strip()!r} must be positive")
    return value


def _bar_time(text: str, timeframe: str) -> datetime:
    moment = _moment(text.strip())
    if timeframe == DAILY:
        return day_start(moment.date() if isinstance(moment, datetime) else moment)
    if not isinstance(moment, datetime):
        raise ValueError(f"{timeframe} bars need a time, got the date {text.strip()!r}")
    if moment.tzinfo is None:
        return _exchange_time(moment)
    return moment.astimezone(UTC)


def _moment(text: str) -> date | datetime:
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            pass
    for layout in US_FORMATS:
        try:
            parsed = datetime.strptime(text, layout)
        except ValueError:
            continue
        return parsed if "%H" in layout else parsed.date()
    raise ValueError(f"date {text!r} is not YYYY-MM-DD or MM/DD/YYYY (optionally with a time)")


def _exchange_time(naive: datetime) -> datetime:
    """A New York wall-clock time in UTC; the first of two in the repeated autumn hour."""
    moment = naive.replace(tzinfo=EXCHANGE_TZ).astimezone(UTC)
    if moment.astimezone(EXCHANGE_TZ).replace(tzinfo=None) != naive:
        raise ValueError(f"{naive.isoformat(' ')} does not exist in New York (the spring DST gap)")
    return moment
