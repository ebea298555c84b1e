"""`manage.py benchmark api`: latency and queries per request of the JSON API's busiest reads.

GET /api/bots, GET /api/trades?limit=50 and GET /api/trades/stats for one user with --bots bots and
--trades trades, in a throwaway copy of the configured database (PostgreSQL with DATABASE_URL).
Requests go through the whole Django stack (middleware, bearer token auth, rate limiting, the
handlers, JSON rendering) in-process, without a network hop. The query counts are measured on a
tenth of the data first, then on all of it: they must not grow with the data. The statistics are cached
until the user's trades change; the last line times their recomputation after a new trade.
"""

import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.services import api_token_create
from bots import services
from ops.benchmarks.ticks import CONFIG, percentile, throwaway_database
from trades.models import Trade

ENDPOINTS = ("/api/bots", "/api/trades?limit=50", "/api/trades/stats")
SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "XOM")


def add_arguments(parser) -> None:
    parser.add_argument("--bots", type=int, default=100)
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")


def run(out, *, bots: int, trades: int, requests: int, **_) -> None:
    with throwaway_database() as vendor, override_settings(TRADEBOT_API_RATE="100000000/minute"):
        owner = get_user_model().objects.create_user("benchmark")
        ids = create_bots(owner, bots)
        client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=owner, name='benchmark')[1]}")
        create_trades(owner, ids, trades // 10, start=0)
        small = {url: queries(client, url) for url in ENDPOINTS}
        create_trades(owner, ids, trades - trades // 10, start=trades // 10)
        analyze()
        out.write(f"{bots} bots, {Trade.objects.count()} trades of one user, {vendor}; {requests} requests each")
        for url in ENDPOINTS:
            ms = timings(client, url, requests)
            out.write(
                f"GET {url}: p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
                f"mean {statistics.fmean(ms):.1f} ms; queries per request {queries(client, url)} "
                f"({small[url]} with a tenth of the trades)"
            )
        ms, counts = cold_stats(client, owner, ids, max(requests // 10, 5))
        out.write(
            f"GET /api/trades/stats right after a new closed trade (recomputed): "
            f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms; queries per request {sorted(counts)}"
        )


def create_bots(owner, count: int) -> list[int]:
    account = services.default_broker_account(owner)
    return [
        services.bot_create(
            owner=owner,
            config=services.parse_config(dict(CONFIG, name=f"bench {n}", symbols=[SYMBOLS[n % len(SYMBOLS)]])),
            broker_account=account,
        ).pk
        for n in range(count)
    ]


def create_trades(owner, bot_ids: list[int], count: int, *, start: int) -> None:
    """Round trips over the last year: a buy, then a sell with a realized P&L, per bot in turn."""
    rng = random.Random(start)
    now = timezone.now()
    batch = []
    for n in range(start, start + count):
        bot_id = bot_ids[(n // 2) % len(bot_ids)]
        when = now - timedelta(minutes=(start + count - n) * 5)
        sell = n % 2 == 1
        batch.append(
            Trade(
                owner=owner, bot_id=bot_id, bot_name=f"bench {bot_id}", symbol=SYMBOLS[bot_id % len(SYMBOLS)],
                type="sell" if sell else "buy", quantity=10, price=Decimal("100.00"), timestamp=when,
                filled_at=when, client_order_id=f"bench-{n}", status="filled",
                profit_loss=Decimal(rng.randint(-5000, 5200)) / 100 if sell else None,
            )
        )  # fmt: skip
        if len(batch) == 5000:
            Trade.objects.bulk_create(batch)
            batch = []
    Trade.objects.bulk_create(batch)


def analyze() -> None:
    """Planner statistics and the visibility map (index-only scans) as autovacuum keeps them on a live
    database; straight after a bulk insert they are missing."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def queries(client: Client, url: str) -> int:
    client.get(url)  # the token's last_used_at write happens at most once a minute: keep it out
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200, url
    return len(captured)


def cold_stats(client: Client, owner, bot_ids: list[int], count: int) -> tuple[list[float], set[int]]:
    ms, counts = [], set()
    for n in range(count):
        create_trades(owner, bot_ids, 2, start=10_000_000 + 2 * n)
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            assert client.get("/api/trades/stats").status_code == 200
            ms.append((time.perf_counter() - began) * 1000)
        counts.add(len(captured))
    return sorted(ms), counts


def timings(client: Client, url: str, count: int) -> list[float]:
    for _ in range(10):  # warm-up: connections, caches, the planner
        client.get(url)
    ms = []
    for _ in range(count):
        began = time.perf_counter()
        response = client.get(url)
        ms.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, url
    return sorted(ms)
