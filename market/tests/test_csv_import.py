from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from market.base import empty_bars
from market.csv_import import ParsedBars, parse_bars_csv, upsert_bars
from market.csv_rows import CsvImportError
from market.models import Bar

# Yahoo Finance's download format, with a byte-order mark as Excel writes it.
YAHOO_DAILY = """\ufeffDate,Open,High,Low,Close,Adj Close,Volume
2024-01-02,187.149994,188.440002,183.889999,185.639999,184.938217,82488700
2024-01-03,184.220001,185.880005,183.429993,184.250000,183.553467,58414500
2024-01-04,182.149994,183.089996,180.880005,181.910004,181.222336,71983600
"""


def write(tmp_path, text: str, name: str = "bars.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_import(*args) -> str:
    out = StringIO()
    call_command("import_bars", *map(str, args), stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_a_yahoo_file_imports_as_decimal_bars_at_the_new_york_session_start(tmp_path):
    output = run_import("aapl", write(tmp_path, YAHOO_DAILY), "--timeframe", "1Day")
    assert output == "AAPL 1Day: 3 bars imported (3 created, 0 updated)"
    first = Bar.objects.get(symbol="AAPL", timeframe="1Day", time=datetime(2024, 1, 2, 5, 0, tzinfo=UTC))
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        Decimal("187.149994"),
        Decimal("188.440002"),
        Decimal("183.889999"),
        Decimal("185.639999"),
        Decimal("82488700"),
    )
    assert Bar.objects.count() == 3


@pytest.mark.django_db
def test_reimporting_updates_the_bars_and_never_duplicates_them(tmp_path):
    run_import("AAPL", write(tmp_path, YAHOO_DAILY))
    corrected = YAHOO_DAILY.replace("184.250000,183.553467", "184.300000,183.553467") + (
        "2024-01-05,181.990005,182.759995,180.169998,181.179993,180.495071,62303300\n"
    )
    assert run_import("AAPL", write(tmp_path, corrected)) == "AAPL 1Day: 4 bars imported (1 created, 3 updated)"
    assert Bar.objects.filter(symbol="AAPL", timeframe="1Day").count() == 4
    assert Bar.objects.get(time=datetime(2024, 1, 3, 5, tzinfo=UTC)).close == Decimal("184.3")


@pytest.mark.django_db
def test_the_same_dates_for_another_symbol_or_timeframe_are_separate_bars(tmp_path):
    path = write(tmp_path, YAHOO_DAILY)
    run_import("AAPL", path)
    assert run_import("MSFT", path) == "MSFT 1Day: 3 bars imported (3 created, 0 updated)"
    intraday = "datetime,open,high,low,close,volume\n2024-01-02 09:30,1,2,1,2,10\n"
    output = run_import("AAPL", write(tmp_path, intraday, "minutes.csv"), "--timeframe", "1Min")
    assert output == "AAPL 1Min: 1 bars imported (1 created, 0 updated)"
    assert Bar.objects.count() == 7


@pytest.mark.django_db
def test_bad_rows_are_reported_with_their_line_numbers_and_nothing_is_written(tmp_path):
    bad = (
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,10,11,9,10.5,100\n"
        "2024-01-03,10,9,11,10,100\n"
        "\n"
        "2024-01-04,null,11,9,10,100\n"
        "2024-01-05,-1,11,9,10,100\n"
        "not a date,10,11,9,10,100\n"
        "2024-01-08,10,11,9,12,100\n"
        "2024-01-09,10,11,9,10,-5\n"
        "2024-01-02,10,11,9,10,100\n"
        "2024-01-10,10,11\n"
    )
    with pytest.raises(CommandError) as refused:
        run_import("AAPL", write(tmp_path, bad))
    message = str(refused.value)
    for expected in (
        "line 3: high 9.000000 is below low 11.000000",
        "line 5: open 'null' is not a number",
        "line 6: open '-1' must be positive",
        "line 7: date 'not a date' is not YYYY-MM-DD",
        "line 8: close 12.000000 is outside the bar's range 9.000000..11.000000",
        "line 9: volume -5 is negative",
        "line 10: 2024-01-02T05:00:00+00:00 repeats line 2",
        "line 11: expected at least 6 fields, found 3",
    ):
        assert expected in message
    assert not Bar.objects.exists()


@pytest.mark.django_db
def test_a_missing_column_is_named(tmp_path):
    with pytest.raises(CommandError, match="missing column\\(s\\) Volume"):
        run_import("AAPL", write(tmp_path, "Date,Open,High,Low,Close\n2024-01-02,1,1,1,1\n"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["AAPL", "/nonexistent/bars.csv"], "cannot read"),
        (["not a symbol!", "{path}"], "invalid symbol"),
        (["AAPL", "{path}", "--timeframe", "2Min"], "invalid choice"),
    ],
)
def test_the_command_refuses_bad_arguments(tmp_path, args, message):
    path = write(tmp_path, YAHOO_DAILY)
    with pytest.raises(CommandError, match=message):
        run_import(*[arg.format(path=path) for arg in args])
    assert not Bar.objects.exists()


def test_an_empty_file_is_refused():
    with pytest.raises(CsvImportError, match="no bars"):
        parse_bars_csv(StringIO("Date,Open,High,Low,Close,Volume\n\n"), "1Day")


def test_intraday_naive_times_are_new_york_time_across_dst():
    bars = parse_bars_csv(
        StringIO(
            "Datetime,Open,High,Low,Close,Volume\n"
            "2024-01-02 09:30:00,1,1,1,1,5\n"
            "2024-07-02 09:30:00,1,1,1,1,5\n"
            "2024-07-02T13:35:00+00:00,1,1,1,1,5\n"
            "07/03/2024 09:30,1,1,1,1,5\n"
        ),
        "5Min",
    )
    assert list(bars.frame.index) == [
        datetime(2024, 1, 2, 14, 30, tzinfo=UTC),
        datetime(2024, 7, 2, 13, 30, tzinfo=UTC),
        datetime(2024, 7, 2, 13, 35, tzinfo=UTC),
        datetime(2024, 7, 3, 13, 30, tzinfo=UTC),
    ]


def test_a_daily_rows_date_is_its_session_date_whatever_time_is_written():
    bars = parse_bars_csv(
        StringIO("date,open,high,low,close,volume\n2024-07-02T00:00:00Z,1,1,1,1,5\n07/03/2024,1,1,1,1,5\n"), "1Day"
    )
    assert list(bars.frame.index) == [datetime(2024, 7, 2, 4, tzinfo=UTC), datetime(2024, 7, 3, 4, tzinfo=UTC)]


@pytest.mark.parametrize(
    "when, message",
    [("2024-01-02", "need a time"), ("2024-03-10 02:30", "does not exist in New York")],
)
def test_intraday_times_must_be_real_times(when, message):
    with pytest.raises(CsvImportError, match=message):
        parse_bars_csv(StringIO(f"Date,Open,High,Low,Close,Volume\n{when},1,1,1,1,5\n"), "1Min")


@pytest.mark.django_db
def test_upserting_nothing_writes_nothing():
    assert upsert_bars("AAPL", "1Day", ParsedBars(empty_bars(), {})).created == 0
    assert not Bar.objects.exists()
