"""`manage.py benchmark analytics`: latency and queries of the analytics page and a bot's chart data.

/analytics/ over all time and over one month, and GET /bots/<id>/chart.json, for one user with --bots
bots and --trades trades, in a throwaway copy of the configured database (PostgreSQL with
DATABASE_URL), through the whole Django stack in-process with a signed-in session. The query counts
are measured on a tenth of the trades first, then on all of them: they must not grow. The figures are
cached until the trades change; the last line times the page right after a new trade (recomputed).
"""

import statistics
import time

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from ops.benchmarks.api import analyze, create_bots, create_trades, queries, timings
from ops.benchmarks.ticks import percentile, throwaway_database
from trades.models import Trade

PAGES = ("/analytics/?range=ALL", "/analytics/?range=1M")


def add_arguments(parser) -> None:
    parser.add_argument("--bots", type=int, default=20)
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")


def run(out, *, bots: int, trades: int, requests: int, **_) -> None:
    with throwaway_database() as vendor:
        owner = get_user_model().objects.create_user("benchmark")
        ids = create_bots(owner, bots)
        client = Client()
        client.force_login(owner)
        urls = [*PAGES, f"/bots/{ids[0]}/chart.json?symbol=AAPL"]
        create_trades(owner, ids, trades // 10, start=0)
        small = {url: queries(client, url) for url in urls}
        create_trades(owner, ids, trades - trades // 10, start=trades // 10)
        analyze()
        out.write(f"{bots} bots, {Trade.objects.count()} trades of one user, {vendor}; {requests} requests each")
        for url in urls:
            ms = timings(client, url, requests)
            out.write(
                f"GET {url}: p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
                f"mean {statistics.fmean(ms):.1f} ms; queries per request {queries(client, url)} "
                f"({small[url]} with a tenth of the trades)"
            )
        ms, counts = [], set()
        for n in range(max(requests // 5, 5)):
            create_trades(owner, ids, 2, start=10_000_000 + 2 * n)
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                assert client.get(PAGES[0]).status_code == 200
                ms.append((time.perf_counter() - began) * 1000)
            counts.add(len(captured))
        ms.sort()
        out.write(
            f"GET {PAGES[0]} right after a new closed trade (recomputed): "
            f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms; queries per request {sorted(counts)}"
        )
