"""`manage.py benchmark csv`: both whole runs, side by side, on the same generated file."""

import re
from io import StringIO

from django.core.management import call_command


def test_the_csv_benchmark_times_both_whole_runs_side_by_side():
    out = StringIO()
    call_command("benchmark", "csv", "--bars", "600", "--rows", "0", "--repeat", "1", stdout=out)
    report = out.getvalue()
    assert "600 one-minute bars of the simulated market" in report
    assert re.search(r"wall clock \(fastest\) +\d+\.\d\d s +\d+\.\d\d s", report)
    assert re.search(r"trades +\d+ +\d+", report)
    assert re.search(r"Tradebot is \d+\.\dx as fast by the wall clock", report)
