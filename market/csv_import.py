"""Import OHLCV bars from CSV files shaped like public sample data (e.g. Yahoo Finance downloads).

Columns, in any order and any case: Date (or Datetime, Time, Timestamp), Open, High, Low, Close,
Volume; others (Adj Close, Dividends, ...) are ignored. Dates are YYYY-MM-DD or MM/DD/YYYY,
optionally with a time and an offset. A 1Day row's date as written is its session date (any time
part is ignored); intraday rows need a time, and naive times are New York time.
The whole file is validated before anything is written, and then written in one transaction.

The rules are csv_rows's, row by row with Decimal; checking a million rows that way takes half a
minute, so pandas reads the file and numpy checks every row at once. A row numpy cannot clear
exactly (a refusal, or a shape it does not read: US dates, more than 6 decimals at a rounding tie,
prices beyond float's 15 exact digits) goes to csv_rows, which decides it and words its error.
Files whose rows cannot be told apart line by line (quoted line breaks, lone carriage returns) are
read by csv_rows alone.
"""

import csv
import io
import re
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC
from functools import cache, partial
from itertools import chain
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
from django.db import connection, transaction

from engine.market_time import DAILY, EXCHANGE_TZ
from market.bar_times import check_timeframe
from market.base import BAR_COLUMNS
from market.csv_rows import (
    PRICE_COLUMNS,
    BarRow,
    CsvImportError,
    check_row,
    header_columns,
    is_blank,
    read_rows,
    repeat_error,
)
from market.models import Bar

SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,15}")
# Up to here a price with 6 decimals (a volume with 2) has at most 15 digits, which a float holds
# exactly: numpy's verdict on such a row is Decimal's. Larger values go to csv_rows.
EXACT_PRICE, EXACT_VOLUME = 1e9, 1e13
# Within this of a half step after scaling, float rounding may differ from Decimal's half-even.
TIE_MARGIN = 0.07
# Date layouts read vectorised, as (shape, aware): a row takes the first row's layout or is left to
# csv_rows. In a shape "#" is a digit, "5" a digit up to 5 (minutes and seconds under 60), "±" a sign,
# "S" the first row's date-time separator, " " or "T"; the rest stands for itself. Every layout puts the
# year, month, day, hour, minute, second and offset at the same places.
FAST_DATES = (
    ("####-##-##", False),
    ("####-##-##S##:5#", False),
    ("####-##-##S##:5#:5#", False),
    ("####-##-##S##:5#:5#Z", True),
    ("####-##-##S##:5#:5#±##:##", True),
)
# Years numpy reads here; others (valid for Python from 1) are left to csv_rows.
FIRST_YEAR, LAST_YEAR = 1900, 2200
FIELDS = ["symbol", "timeframe", "time", *BAR_COLUMNS]
# Rows in one SQLite INSERT (within its limit on parameters): far fewer statements than one a row.
ROWS_PER_STATEMENT = 500


@dataclass(frozen=True)
class ParsedBars:
    """A file's bars in the file's order: `frame` indexed by UTC time, float columns open..volume at the
    Bar model's precision; `exact` the rows csv_rows checked, by position, as Decimals."""

    frame: pd.DataFrame
    exact: dict[int, BarRow]


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int


def clean_symbol(symbol: str) -> str:
    cleaned = symbol.strip().upper()
    if not SYMBOL.fullmatch(cleaned):
        raise ValueError(f"invalid symbol {symbol!r}: use up to 16 letters, digits, '.' or '-'")
    return cleaned


def parse_bars_csv(source: TextIO, timeframe: str) -> ParsedBars:
    """Validated bars of a CSV file; raises CsvImportError listing every bad line."""
    check_timeframe(timeframe)
    text = source.read()
    return _read_vectorised(text, timeframe) or _read_row_by_row(text, timeframe)


def _read_row_by_row(text: str, timeframe: str) -> ParsedBars:
    rows = read_rows(io.StringIO(text, newline=""), timeframe)
    return _bars(
        [row.time for row in rows],
        {name: [float(getattr(row, name)) for row in rows] for name in BAR_COLUMNS},
        dict(enumerate(rows)),
    )


def _read_vectorised(text: str, timeframe: str) -> ParsedBars | None:
    """The file read by pandas and checked by numpy; None when its rows cannot be mapped to lines."""
    if "\x00" in text or ("\r" in text and text.count("\r") != text.count("\r\n")):
        return None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((record for record in reader if not is_blank(record)), None)
    except csv.Error:
        return None
    if header is None:
        raise CsvImportError(["no bars in the file"])
    header_line = reader.line_num
    columns = header_columns(header, header_line)
    count = text.count("\n") + 1 - header_line - (1 if text.endswith("\n") else 0)
    if count <= 0:
        raise CsvImportError(["no bars in the file"])
    data = text.encode()
    starts = _line_starts(data, header_line, count)
    # A date in the first column, unquoted, is read from the file's bytes: no string a row.
    from_bytes = columns["date"] == 0 and data[starts[0] : starts[0] + 1].isdigit()
    try:
        table = pd.read_csv(
            io.BytesIO(data),
            header=None,
            names=range(max(columns.values()) + 1),
            skiprows=header_line,
            skip_blank_lines=False,
            usecols=sorted(set(columns.values()) - ({0} if from_bytes else set())),
            dtype={columns["date"]: str},
        )
    except (ValueError, pd.errors.ParserError):
        return None
    if len(table) != count:  # a quoted line break: a row spans lines
        return None
    scaled = {name: _scaled(table[columns[name]], 1e6, EXACT_PRICE) for name in PRICE_COLUMNS}
    volume = _scaled(table[columns["volume"]], 1e2, EXACT_VOLUME)
    if from_bytes:
        first = data[starts[0] :].split(b",", 1)[0].decode()
        times = _times(partial(_leading_characters, data, starts), first, timeframe, count)
    else:
        texts = table[columns["date"]]
        times = _times(partial(_characters, texts), next(iter(texts.dropna()), ""), timeframe, count)
    unsure = np.isnat(times) | np.isnan(volume)
    for value in scaled.values():
        unsure |= np.isnan(value) | (value <= 0)
    low, high = scaled["low"], scaled["high"]
    unsure |= (high < low) | (scaled["open"] < low) | (scaled["open"] > high)
    unsure |= (scaled["close"] < low) | (scaled["close"] > high)
    first_line = header_line + 1
    checked, errors = _check_rows(text, np.flatnonzero(unsure) + first_line, columns, timeframe)

    sure = ~unsure
    line_numbers = np.concatenate([np.flatnonzero(sure) + first_line, list(checked)])
    order = np.argsort(line_numbers, kind="stable")
    exact_rows = list(checked.values())
    values = {name: scaled[name][sure] / 1e6 for name in PRICE_COLUMNS} | {"volume": volume[sure] / 1e2}
    values = {
        name: np.concatenate([column, [float(getattr(row, name)) for row in exact_rows]])[order]
        for name, column in values.items()
    }
    checked_times = pd.DatetimeIndex([row.time for row in exact_rows], tz=UTC)
    all_times = pd.DatetimeIndex(times[sure]).tz_localize(UTC).append(checked_times)[order]
    line_numbers = line_numbers[order]
    errors += _repeats(all_times, line_numbers)
    if errors:
        raise CsvImportError([message for _, message in sorted(errors, key=lambda error: error[0])])
    if not len(all_times):
        raise CsvImportError(["no bars in the file"])
    positions = {line: position for position, line in enumerate(line_numbers)}
    return _bars(all_times, values, {positions[line]: row for line, row in checked.items()})


def _bars(times, values: dict, exact: dict[int, BarRow]) -> ParsedBars:
    index = pd.DatetimeIndex(times, name="time").tz_convert(UTC)
    return ParsedBars(pd.DataFrame({name: values[name] for name in BAR_COLUMNS}, index=index, dtype=float), exact)


def _scaled(column: pd.Series, scale: float, exact_below: float) -> np.ndarray:
    """The column in steps of 1/scale (rounded as Decimal's quantize would), NaN where numpy cannot be sure:
    no number, negative, too large to be exact, or at a rounding tie."""
    if column.dtype.kind in "fiu":
        numbers = column.to_numpy(dtype=float)
    elif column.dtype.kind in "OUT" or pd.api.types.is_string_dtype(column):
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, copy=True)
        if column.dtype.kind == "O":  # pandas reads True and False among blanks as booleans: no numbers
            numbers[column.map(type).eq(bool).to_numpy()] = np.nan
    else:
        return np.full(len(column), np.nan)
    raw = numbers * scale
    steps = np.rint(raw)
    with np.errstate(invalid="ignore"):
        sure = (numbers >= 0) & (numbers < exact_below) & (np.abs(np.abs(raw - steps) - 0.5) > TIE_MARGIN)
    return np.where(sure, steps, np.nan)


def _times(characters, first: str, timeframe: str, count: int) -> np.ndarray:
    """Each of the `count` rows' bar time in UTC (naive datetime64[us]), NaT where the row is not in the first
    row's layout or not a valid time; `characters(width)` gives the rows' code points as _characters does."""
    separator = first[10:11]
    shapes = [(shape.replace("S", separator), aware) for shape, aware in FAST_DATES]
    shape, aware = next(
        ((shape, aware) for shape, aware in shapes if _fits(_characters([first], len(shape)), shape)[0]), ("", False)
    )
    if not shape or (len(shape) == 10 and timeframe != DAILY):
        # No layout read here; and intraday rows need a time, which csv_rows says line by line.
        return np.full(count, np.datetime64("NaT", "us"))
    codes = characters(len(shape))
    valid = _fits(codes, shape)
    year, month, day = _digits(codes, 0, 4), _digits(codes, 5, 2), _digits(codes, 8, 2)
    valid &= (year >= FIRST_YEAR) & (year <= LAST_YEAR) & (month >= 1) & (month <= 12) & (day >= 1)
    month_start = np.where(valid, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    days = month_start.astype("datetime64[D]") + np.where(valid, day - 1, 0)
    valid &= days.astype("datetime64[M]") == month_start  # no 30 February
    seconds = np.zeros(len(codes), dtype=np.int64)
    if len(shape) > 10:
        hour = _digits(codes, 11, 2)
        valid &= hour <= 23
        seconds = hour * 3600 + _digits(codes, 14, 2) * 60 + (_digits(codes, 17, 2) if len(shape) > 16 else 0)
    if len(shape) == 25:  # an offset, ±HH:MM
        offset_hours, offset_minutes = _digits(codes, 20, 2), _digits(codes, 23, 2)
        valid &= (offset_hours <= 23) & (offset_minutes <= 59)
        sign = np.where(codes[:, 19] == ord("-"), -1, 1)
        seconds -= sign * (offset_hours * 3600 + offset_minutes * 60)
    if timeframe == DAILY:
        # The date as written is the session, whatever the time or offset: its midnight in New York.
        local = pd.DatetimeIndex(np.where(valid, days, np.datetime64("NaT")).astype("datetime64[us]"))
        return local.tz_localize(EXCHANGE_TZ).tz_convert(UTC).tz_localize(None).to_numpy()
    moment = np.where(valid, days.astype("datetime64[s]") + seconds, np.datetime64("NaT")).astype("datetime64[us]")
    if aware:
        return moment
    # The first of two in the repeated autumn hour; times in the spring gap are left to csv_rows to refuse.
    local = pd.DatetimeIndex(moment).tz_localize(
        EXCHANGE_TZ, ambiguous=np.ones(len(moment), dtype=bool), nonexistent="NaT"
    )
    return local.tz_convert(UTC).tz_localize(None).to_numpy()


def _digits(codes: np.ndarray, start: int, length: int) -> np.ndarray:
    """The number written in each row's code points start..start+length (digits, as _fits made sure)."""
    number = np.zeros(len(codes), dtype=np.int64)
    for position in range(start, start + length):
        number = number * 10 + (codes[:, position].astype(np.int64) - ord("0"))
    return number


def _line_starts(data: bytes, header_line: int, count: int) -> np.ndarray:
    """Where each of the `count` lines after line `header_line` starts in the file's bytes."""
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    return np.concatenate([[0], ends + 1])[header_line : header_line + count]


def _leading_characters(data: bytes, starts: np.ndarray, width: int) -> np.ndarray:
    """As _characters, for the first field of each line straight from the bytes: a newline after `width`
    bytes where the field ends there (a comma follows)."""
    buffer = np.concatenate([np.frombuffer(data, dtype=np.uint8), np.zeros(width + 1, dtype=np.uint8)])
    codes = buffer[starts[:, None] + np.arange(width + 1)]
    codes[:, width] = np.where(codes[:, width] == ord(","), ord("\n"), 0)
    return codes


def _characters(texts, width: int) -> np.ndarray:
    """The texts' code points, a row each, `width` of them then one more: a newline if the text is exactly
    `width` long. Joined and encoded at once when every text is (the usual file), one by one otherwise."""
    values = [text if isinstance(text, str) else "" for text in texts]
    codes = np.frombuffer(("\n".join(values) + "\n").encode("utf-32-le"), dtype=np.uint32)
    if len(codes) == len(values) * (width + 1):
        codes = codes.reshape(len(values), width + 1)
        if (codes[:, width] == ord("\n")).all():
            return codes
    padded = np.array([value + "\n" if len(value) == width else "" for value in values], dtype=f"U{width + 1}")
    return padded.view(np.uint32).reshape(len(values), width + 1)


def _fits(codes: np.ndarray, shape: str) -> np.ndarray:
    """Which rows of code points (from _characters) spell a text of exactly this shape."""
    fits = codes[:, len(shape)] == ord("\n")  # exactly as long as the shape
    for position, char in enumerate(shape):
        code = codes[:, position]
        if char in "#5":
            fits &= (code >= ord("0")) & (code <= ord(char if char == "5" else "9"))
        elif char == "±":
            fits &= (code == ord("+")) | (code == ord("-"))
        else:
            fits &= code == ord(char)
    return fits


def _check_rows(text: str, numbers: np.ndarray, columns: dict[str, int], timeframe: str):
    """csv_rows's verdict on the given lines: ({line: row}, [(line, error)]); blank lines are neither."""
    checked, errors = {}, []
    lines = text.split("\n") if len(numbers) else []
    for number in numbers.tolist():
        line = lines[number - 1]
        record = next(csv.reader([line.removesuffix("\r")]), [])
        if is_blank(record):
            continue
        try:
            checked[number] = check_row(record, columns, timeframe)
        except ValueError as error:
            errors.append((number, f"line {number}: {error}"))
    return checked, errors


def _repeats(times: pd.DatetimeIndex, line_numbers: np.ndarray) -> list[tuple[int, str]]:
    repeated = times.duplicated(keep="first")
    if not repeated.any():
        return []
    first_line = pd.Series(line_numbers).groupby(times.asi8).transform("first").to_numpy()
    return [
        (int(line), repeat_error(int(line), time.to_pydatetime(), int(first)))
        for time, line, first in zip(times[repeated], line_numbers[repeated], first_line[repeated], strict=True)
    ]


def upsert_bars(symbol: str, timeframe: str, bars: ParsedBars) -> ImportResult:
    """Insert new bars and overwrite existing ones (same symbol, timeframe and time), many rows a statement:
    a million Bar instances through the ORM would take longer than reading and checking the file."""
    symbol = clean_symbol(symbol)
    check_timeframe(timeframe)
    frame = bars.frame
    if frame.empty:
        return ImportResult(created=0, updated=0)
    stored = Bar.objects.filter(symbol=symbol, timeframe=timeframe, time__range=(frame.index.min(), frame.index.max()))
    rows = _sql_rows(symbol, timeframe, bars)
    with transaction.atomic():
        before = stored.count()
        # The driver's own cursor: Django's SQLite one rewrites every statement's placeholders with a regex.
        with closing(connection.connection.cursor()) as cursor:
            if connection.vendor == "postgresql":
                _copy(cursor, rows, into_table=not before)
            else:
                per_statement = min(ROWS_PER_STATEMENT, connection.features.max_query_params // len(FIELDS))
                for start in range(0, len(rows), per_statement):
                    batch = rows[start : start + per_statement]
                    cursor.execute(_upsert_sql(len(batch)), list(chain.from_iterable(batch)))
        created = stored.count() - before
    return ImportResult(created=created, updated=len(frame) - created)


def import_bars_csv(symbol: str, path: Path, timeframe: str) -> ImportResult:
    symbol = clean_symbol(symbol)
    try:
        with open(path, newline="", encoding="utf-8-sig") as file:
            bars = parse_bars_csv(file, timeframe)
    except UnicodeDecodeError:
        raise CsvImportError([f"{path.name} is not UTF-8 text"]) from None
    return upsert_bars(symbol, timeframe, bars)


@cache
def _upsert_sql(rows: int) -> str:
    row = f"({', '.join(['?'] * len(FIELDS))})"
    return f"INSERT INTO {_table()} VALUES {', '.join([row] * rows)} {_on_conflict()}"


def _copy(cursor, rows: list[tuple], *, into_table: bool) -> None:
    """PostgreSQL: COPY, as parameters bound one by one cost far more than the rows (a million rows, eight
    million parameters). Straight into the table when it holds none of the file's span (nothing to update);
    otherwise into a temporary table, then one INSERT ... ON CONFLICT from it."""
    quote = connection.ops.quote_name
    if not into_table:
        cursor.execute(
            "CREATE TEMPORARY TABLE bar_import (symbol varchar(16), timeframe varchar(8), time timestamptz, "
            "open numeric, high numeric, low numeric, close numeric, volume numeric)"
        )
    with cursor.copy(f"COPY {_table() if into_table else 'bar_import'} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    if not into_table:
        columns = ", ".join(map(quote, FIELDS))
        cursor.execute(f"INSERT INTO {_table()} SELECT {columns} FROM bar_import {_on_conflict()}")
        cursor.execute("DROP TABLE bar_import")


def _table() -> str:
    quote = connection.ops.quote_name
    return f"{quote(Bar._meta.db_table)} ({', '.join(map(quote, FIELDS))})"


def _on_conflict() -> str:
    quote = connection.ops.quote_name
    updates = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in BAR_COLUMNS)
    return f"ON CONFLICT ({', '.join(map(quote, FIELDS[:3]))}) DO UPDATE SET {updates}"


def _sql_rows(symbol: str, timeframe: str, bars: ParsedBars) -> list[tuple]:
    """Parameters for each bar: times as the database backend writes them; values as floats where they hold
    the decimal exactly (below EXACT_PRICE and EXACT_VOLUME: 15 digits), as Decimals for csv_rows's rows."""
    frame = bars.frame
    columns = [frame[name].tolist() for name in BAR_COLUMNS]
    for position, row in bars.exact.items():
        for column, name in zip(columns, BAR_COLUMNS, strict=True):
            column[position] = getattr(row, name)
    return list(zip([symbol] * len(frame), [timeframe] * len(frame), _sql_times(frame.index), *columns, strict=True))


def _sql_times(index: pd.DatetimeIndex) -> list[str]:
    """As Django writes a DateTimeField: naive UTC text on SQLite (microseconds only where there are some),
    with its offset on PostgreSQL."""
    utc = index.tz_convert(UTC).tz_localize(None)
    if (utc == utc.floor("s")).all():
        moments = utc.astype(str).tolist()  # pandas' own formatter: C, not a Python call a row
    else:
        moments = [str(moment) for moment in utc.to_pydatetime()]
    return moments if connection.vendor == "sqlite" else [moment + "+00:00" for moment in moments]
