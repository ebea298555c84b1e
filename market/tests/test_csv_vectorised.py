"""The vectorised CSV reader refuses exactly what the row-by-row rules (csv_rows) refuse, in the same words,
and reads the same bars from everything else."""

from datetime import datetime
from io import StringIO

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.csv_import import _read_row_by_row, parse_bars_csv
from market.csv_rows import CsvImportError

HEADER = "Datetime,Open,High,Low,Close,Volume\n"
GOOD = "2024-01-02 09:30:00,10,11,9,10.5,100\n"


def refusal(text: str, timeframe: str = "1Min") -> list[str]:
    with pytest.raises(CsvImportError) as refused:
        parse_bars_csv(StringIO(text), timeframe)
    return refused.value.errors


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("2024-01-02 09:31:00,ten,11,9,10,100", "line 3: open 'ten' is not a number"),
        ("2024-01-02 09:31:00,10,11,9,10,", "line 3: volume '' is not a number"),
        ("2024-01-02 09:31:00,10,11,9,NaN,100", "line 3: close 'NaN' is not a number"),
        ("2024-01-02 09:31:00,10,inf,9,10,100", "line 3: high 'inf' is not a number"),
        ("2024-01-02 09:31:00,10,11,-9,10,100", "line 3: low '-9' must be positive"),
        ("2024-01-02 09:31:00,0,11,9,10,100", "line 3: open '0' must be positive"),
        ("2024-01-02 09:31:00,0.0000004,11,9,10,100", "line 3: open '0.0000004' must be positive"),
        ("2024-01-02 09:31:00,10,1e12,9,10,100", "line 3: high 1E+12 is too large"),
        ("2024-01-02 09:31:00,10,11,9,10,1e18", "line 3: volume 1E+18 is too large"),
        ("2024-01-02 09:31:00,10,11,9,10,-0.5", "line 3: volume -0.5 is negative"),
        ("2024-01-02 09:31:00,10,9,11,10,100", "line 3: high 9.000000 is below low 11.000000"),
        ("2024-01-02 09:31:00,8.5,11,9,10,100", "line 3: open 8.500000 is outside the bar's range 9.000000..11"),
        ("2024-01-02 09:31:00,10,11,9,11.01,100", "line 3: close 11.010000 is outside the bar's range 9.000000..11"),
        ("2024-13-02 09:31:00,10,11,9,10,100", "line 3: date '2024-13-02 09:31:00' is not YYYY-MM-DD"),
        ("2024-01-02 09:31:60,10,11,9,10,100", "line 3: date '2024-01-02 09:31:60' is not YYYY-MM-DD"),
        ("yesterday,10,11,9,10,100", "line 3: date 'yesterday' is not YYYY-MM-DD"),
        (",10,11,9,10,100", "line 3: date '' is not YYYY-MM-DD"),
        ("2024-01-02,10,11,9,10,100", "line 3: 1Min bars need a time, got the date '2024-01-02'"),
        ("2024-03-10 02:30:00,10,11,9,10,100", "line 3: 2024-03-10 02:30:00 does not exist in New York"),
        ("2024-01-02 09:30:00,10,11,9,10,100", "line 3: 2024-01-02T14:30:00+00:00 repeats line 2"),
        ("2024-01-02 14:30:00+00:00,10,11,9,10,100", "line 3: 2024-01-02T14:30:00+00:00 repeats line 2"),
        ("2024-01-02 09:31:00,10,11", "line 3: expected at least 6 fields, found 3"),
        # pandas reads these as booleans, and True as 1, in a column it cannot read as numbers
        ("2024-01-02 09:31:00,10,11,9,10,True", "line 3: volume 'True' is not a number"),
        ("2024-01-02 09:31:00,false,11,9,10,100", "line 3: open 'false' is not a number"),
    ],
)
def test_each_kind_of_bad_row_is_refused_with_its_line_and_reason(row, error):
    errors = refusal(HEADER + GOOD + row + "\n")
    assert len(errors) == 1
    assert errors[0].startswith(error)


def test_every_bad_line_is_reported_in_line_order_and_blank_lines_count():
    text = HEADER + "2024-01-02 09:33:00,x,11,9,10,1\n\n,,,,,\n" + GOOD + "2024-01-02 09:31:00,10,9,11,10,1\n" + GOOD
    assert refusal(text) == [
        "line 2: open 'x' is not a number",
        "line 6: high 9.000000 is below low 11.000000",
        "line 7: 2024-01-02T14:30:00+00:00 repeats line 5",
    ]


def test_booleans_among_blanks_are_no_numbers():
    # pandas reads such a column as objects, True among them, which pd.to_numeric takes for 1
    text = HEADER + "2024-01-02 09:31:00,10,11,9,10,True\n2024-01-02 09:32:00,10,11,9,10,\n"
    assert refusal(text) == ["line 2: volume 'True' is not a number", "line 3: volume '' is not a number"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "no bars in the file"),
        ("\n\n", "no bars in the file"),
        (HEADER, "no bars in the file"),
        (HEADER + "\n,,,,,\n", "no bars in the file"),
        ("Datetime,Open,High,Low,Close\n" + GOOD, "line 1: missing column(s) Volume in header"),
        ("When,Open,High,Low,Close\n" + GOOD, "line 1: missing column(s) Date, Volume in header"),
    ],
)
def test_empty_files_and_missing_columns_are_refused(text, error):
    assert refusal(text)[0].startswith(error)


def test_unsorted_rows_are_accepted_and_keep_the_files_order():
    text = HEADER + "2024-01-02 09:32:00,1,1,1,1,1\n2024-01-02 09:30:00,2,2,2,2,2\n2024-01-02 09:31:00,3,3,3,3,3\n"
    bars = parse_bars_csv(StringIO(text), "1Min").frame
    assert list(bars["open"]) == [1, 2, 3]
    assert list(bars.index.strftime("%H:%M")) == ["14:32", "14:30", "14:31"]


def test_prices_round_to_the_models_six_decimals_half_to_even_as_decimal_does():
    text = HEADER + "2024-01-02 09:30:00,1.0000005,1.0000015,1.00000049,1.0000025,1.005\n"
    bars = parse_bars_csv(StringIO(text), "1Min")
    assert bars.frame.iloc[0].tolist() == [1.0, 1.000002, 1.0, 1.000002, 1.0]
    assert str(bars.exact[0].high) == "1.000002"  # a tie: Decimal decided the row


def test_a_quoted_line_break_is_read_row_by_row_with_the_right_line_numbers():
    text = 'Datetime,Open,High,Low,Close,Volume,Note\n2024-01-02 09:30:00,1,1,1,1,1,"two\nlines"\n' + (
        "2024-01-02 09:31:00,1,0.5,1,1,1,x\n"
    )
    assert refusal(text) == ["line 4: high 0.500000 is below low 1.000000"]


NUMBERS = st.one_of(
    st.decimals(min_value="0.01", max_value="500", places=2).map(str),
    st.decimals(min_value="0", max_value="2", places=8).map(str),
    st.sampled_from(["1e3", "1E-7", "-1", "0", "1_000", " 5 ", "+5", "5.", ".5", "null", "", "nan", "inf", "0x10"]),
    st.sampled_from(["1.0000005", "2.5000005", "1e12", "999999999999.9999999", "1000000000.0000005", "True"]),
)
TIMES = st.one_of(
    st.datetimes(min_value=datetime(2024, 3, 9), max_value=datetime(2024, 3, 12))
    .map(lambda moment: moment.replace(second=0, microsecond=0))
    .map(lambda moment: moment.isoformat(" ")),
    st.sampled_from(
        [
            "2024-11-03 01:30:00",
            "2024-11-03T05:30:00Z",
            "2024-11-03 01:30:00-04:00",
            "2024-11-03 01:30",
            "11/03/2024 01:30",
            "2024-11-03",
            "2024-11-3 01:30:00",
            "2024-11-03 01:30:00.5",
        ]
    ),
)
ROWS = st.lists(
    st.one_of(
        st.tuples(TIMES, NUMBERS, NUMBERS, NUMBERS, NUMBERS, NUMBERS).map(",".join),
        st.sampled_from(["", ",,,,,", "2024-03-10 10:00:00,1,1", "2024-03-10 10:00:00,1,2,1,1,1,extra"]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(rows=ROWS, daily=st.booleans(), date_last=st.booleans())
def test_the_vectorised_reader_agrees_with_the_row_by_row_rules(rows, daily, date_last):
    if date_last:  # the date read from pandas' strings rather than the file's bytes
        rows = [",".join([*row.split(",")[1:], row.split(",")[0]]) for row in rows]
    text = ("Open,High,Low,Close,Volume,Datetime\n" if date_last else HEADER) + "\n".join(rows) + "\n"
    timeframe = "1Day" if daily else "1Min"
    try:
        expected = _read_row_by_row(text, timeframe)
    except CsvImportError as refused:
        assert refusal(text, timeframe) == refused.errors
        return
    bars = parse_bars_csv(StringIO(text), timeframe)
    pd.testing.assert_frame_equal(bars.frame, expected.frame)
    for position, row in bars.exact.items():
        assert row == expected.exact[position]
