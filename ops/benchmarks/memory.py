"""`manage.py benchmark memory`: a worker's memory while it ticks many bots minute after minute.

One process ticks every bot once a simulated minute, as one pool process of a Celery worker does
(the caches shared by its ticks live as long as it does), and reports its resident memory after the
first minute and after the last. Flat means the caches hold what the current minutes need, not
everything they ever saw.
"""

import gc
import os
import time
from datetime import timedelta

from bots.ticks import bot_tick
from ops.benchmarks.ticks import SESSION_MINUTE, create_bots, throwaway_database

PAGE = os.sysconf("SC_PAGE_SIZE")


def add_arguments(parser) -> None:
    parser.add_argument("--bots", type=int, default=300)
    parser.add_argument("--symbols", type=int, default=3, help="symbols per bot")
    parser.add_argument("--pool", type=int, default=50, help="distinct symbols the bots draw from")
    parser.add_argument("--minutes", type=int, default=30, help="simulated minutes of ticks")


def resident_mib() -> float:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def run(out, *, bots: int, symbols: int, pool: int, minutes: int, **_) -> None:
    with throwaway_database() as vendor:
        ids = create_bots(bots, symbols, pool)
        out.write(
            f"{bots} bots x {symbols} symbols (pool of {pool}), {minutes} simulated minutes in one process, {vendor}"
        )
        readings = []
        started = time.perf_counter()
        for minute in range(minutes):
            now = SESSION_MINUTE + timedelta(minutes=minute)
            for bot_id in ids:
                bot_tick(bot_id=bot_id, now=now)
            readings.append(resident_mib())
            if minute in (0, minutes // 2, minutes - 1):
                out.write(f"after minute {minute + 1}: {readings[-1]:.1f} MiB resident")
        first, last = readings[0], readings[-1]
        out.write(f"{minutes * len(ids)} ticks in {time.perf_counter() - started:.0f} s")
        out.write(f"memory {first:.1f} -> {last:.1f} MiB ({(last - first) / first:+.1%}), peak {max(readings):.1f} MiB")
