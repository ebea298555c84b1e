"""`manage.py benchmark csv`: a CSV file to a backtest result, start to finish, against backtesting.py; and import_bars.

Both backtests run as a new user would: a fresh process each, from its start to its exit, on the same
generated file (one-minute bars of the simulated market, around the clock, times in UTC): ours is
`manage.py backtest --config smacross.json --csv bars.csv --json`, backtesting.py's a script that imports
it, reads the file with pandas and runs the cross-check's SMA(10)/SMA(20) crossover
(`python -m ops.benchmarks.sma_cross bars.csv`). The rules are the cross-check's (crosscheck.py), with a
decision on every bar (window 00:00-23:59) and no costs. Each side runs once to warm Python's bytecode
cache, as any installation has it, then the two alternate; the fastest wall-clock run of each is shown,
with the CPU time it used (steadier than the wall clock on a busy machine).

import_bars stores a file of one-minute bars in a throwaway copy of the configured database (SQLite, or
PostgreSQL with DATABASE_URL): once into an empty table, then again over the same bars (all updates), each
timed by the wall clock (the database server's work included) and by this process's CPU.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from market.models import Bar
from market.simulated import SimulatedMarket
from ops.benchmarks.crosscheck import CONFIG
from ops.benchmarks.ticks import throwaway_database

SYMBOL = "BENCH"
END = datetime(2024, 7, 1, tzinfo=UTC)
EVERY_BAR = {"start_hour": 0, "start_minute": 0, "end_hour": 23, "end_minute": 59}


def add_arguments(parser) -> None:
    parser.add_argument("--bars", type=int, default=200_000, help="one-minute bars to backtest (default 200,000)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for import_bars (default 1,000,000; 0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each side; the fastest shown (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="the simulated market's seed (default 1)")


def run(out, *, bars: int, rows: int, repeat: int, seed: int, **_) -> None:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        _compare_backtests(out, folder, bars=bars, repeat=repeat, seed=seed)
        if rows:
            out.write("")
            _import_bars(out, folder, rows=rows, seed=seed)


def write_bars(path: Path, count: int, seed: int) -> Path:
    bars = SimulatedMarket(seed=seed).bars(SYMBOL, "1Min", end=END, limit=count)
    bars.rename(columns=str.title).rename_axis("Datetime").to_csv(path)
    return path


def _compare_backtests(out, folder: Path, *, bars: int, repeat: int, seed: int) -> None:
    data = write_bars(folder / "bars.csv", bars, seed)
    config = folder / "smacross.json"
    config.write_text(json.dumps({**CONFIG, "symbols": [SYMBOL], "timeframe": "1Min", **EVERY_BAR}))
    commands = {
        "Tradebot": [
            *(sys.executable, "manage.py", "backtest", "--config", str(config), "--csv", str(data), "--json"),
            *("--slippage", "0", "--commission", "0"),
        ],
        "backtesting.py": [sys.executable, "-m", "ops.benchmarks.sma_cross", str(data)],
    }
    out.write(f"{bars:,} one-minute bars of the simulated market (seed {seed}), {data.stat().st_size / 2**20:.1f} MiB")
    out.write("SMA(10)/SMA(20) crossover, long-only, whole shares, next-open fills, no costs, capital 10,000")
    runs = {name: [] for name in commands}
    for command in commands.values():
        _timed(command)  # warms the bytecode cache
    for _ in range(max(1, repeat)):
        for name, command in commands.items():
            runs[name].append(_timed(command))
    best = {name: min(timings, key=lambda timing: timing[0]) for name, timings in runs.items()}
    out.write("")
    out.write(f"{'whole run, process start to exit':36}" + "".join(f"{name:>18}" for name in commands))
    rows = (
        ("wall clock (fastest)", lambda timing: f"{timing[0]:.2f} s"),
        ("CPU time of that run", lambda timing: f"{timing[1]:.2f} s"),
        ("trades", lambda timing: f"{timing[2]['trades']:,}"),
        ("final equity", lambda timing: f"{float(timing[2]['final_equity']):,.2f}"),
    )
    for label, cell in rows:
        out.write(f"{label:36}" + "".join(f"{cell(best[name]):>18}" for name in commands))
    ours, theirs = best["Tradebot"], best["backtesting.py"]
    out.write(
        f"Tradebot is {theirs[0] / ours[0]:.1f}x as fast by the wall clock, {theirs[1] / ours[1]:.1f}x by CPU time "
        f"(all runs, wall: ours {_listed(runs['Tradebot'])}, backtesting.py's {_listed(runs['backtesting.py'])})"
    )


def _timed(command: list[str]) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds, the result's figures) of one run in a fresh process."""
    # Bytecode is cached as on any installation (a developer's environment may turn that off).
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result = json.loads(done.stdout)
    return wall, cpu, result.get("stats", result)


def _listed(timings) -> str:
    return ", ".join(f"{wall:.2f}" for wall, _, _ in timings)


def _import_bars(out, folder: Path, *, rows: int, seed: int) -> None:
    data = write_bars(folder / "import.csv", rows, seed)
    with throwaway_database() as database:
        out.write(f"import_bars of {rows:,} one-minute bars ({data.stat().st_size / 2**20:.1f} MiB) into {database}")
        for label in ("into an empty table", "again (every bar updated)"):
            report = StringIO()
            started, cpu_started = time.perf_counter(), time.process_time()
            call_command("import_bars", SYMBOL, str(data), "--timeframe", "1Min", stdout=report)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            out.write(
                f"  {label:28} {took:6.2f} s ({cpu:.2f} s of this process's CPU), {rows / took:,.0f} rows/s: "
                f"{report.getvalue().strip()}"
            )
        out.write(f"  bars stored: {Bar.objects.filter(symbol=SYMBOL).count():,}")
