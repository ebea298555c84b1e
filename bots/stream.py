"""The stream service: what the live streams (market.stream) carry, applied to the books and the pages.

Every few seconds, within a quarter second of a bot's start, stop or edit, and at once after a fill or
a reconnect, it works out what to stream: per feed (the market data object's identity, so accounts
sharing a feed share one connection), the symbols its running or paused bots trade and its open
positions hold; per Alpaca account key, trade_updates. Then:
- every trade goes to the exit watcher (bots.exit_watch), which sells a position whose stop-loss or
  take-profit it reaches, whatever its bot's status;
- a trade's price goes to the pages (`price_update` to the users whose bots trade or hold the symbol)
  and marks the open positions, coalesced to at most one per PRICE_INTERVAL per symbol;
- a closed minute bar ticks the bots trading the symbol whose bar it closes (1Min, and a coarser
  timeframe on its own boundary) at once; beat's schedule stays the fallback;
- an order update is applied to its pending trade by the repair's own path (bots.orders), so a fill
  seen by stream before the order's HTTP answer, or twice, is recorded once;
- after a gap (a connection back after a drop) the minute bars missed are fetched over REST and handled
  like streamed ones, and pending orders and stops resting at Alpaca are settled over REST.
Handlers run off the streams' reading loops, in this service's threads.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import OperationalError, close_old_connections, connections
from django.db.models import Count, Max
from django.utils import timezone

from bots import notices
from bots.connections import account_feed
from bots.exit_watch import ExitWatch
from bots.maintenance import broker_stops_settle, pending_orders_settle
from bots.models import Bot, BrokerAccount
from bots.orders import order_update_apply
from bots.reconciliation import accounts_reconcile
from bots.ticks import bot_tick
from brokers.base import BrokerError, OrderResult
from engine.market_time import DAILY, TIMEFRAMES
from market.bar_times import epoch_seconds
from market.base import MarketData
from market.sim_stream import StreamBar, StreamTrade
from market.stream import AlpacaMarketStream, AlpacaOrderStream, SimulatedStream
from positions.models import Position
from positions.services import position_mark
from tradebot import metrics
from tradebot.errors import BrokerAccountUnusable
from tradebot.events import publish_many
from tradebot.health import record_stream
from trades.models import Trade

logger = logging.getLogger(__name__)

RECONCILE_SECONDS = 2.0
BOT_POLL_SECONDS = 0.25  # how soon a bot's start, stop or edit changes the subscriptions
PRICE_INTERVAL = 0.25  # at most four price events a second per symbol
FLUSH_SECONDS = 0.05
RETRY_SECONDS = 0.1
WORK_ATTEMPTS = 4
WORKERS = 4  # bar-close ticks side by side
EXIT_REFRESH_SECONDS = 1.0
REFRESH = ()  # on the exit watcher's queue: read the positions again now
_MINUTE = timedelta(minutes=1)
ACTIVE = (Bot.Status.RUNNING, Bot.Status.PAUSED)


@dataclass
class FeedWant:
    """What one feed should stream, and to whom."""

    account: BrokerAccount  # one account of the feed: its keys and URLs open the connection
    market: MarketData
    account_ids: set[int] = field(default_factory=set)
    audience: dict[str, set[int]] = field(default_factory=dict)  # symbol -> users to tell its price
    bots: dict[str, set[tuple[int, str]]] = field(default_factory=dict)  # symbol -> (bot, timeframe), active
    held: set[str] = field(default_factory=set)  # symbols with an open position

    @property
    def symbols(self) -> set[str]:
        return set(self.audience)


@dataclass
class Wants:
    feeds: dict[Hashable, FeedWant]
    order_accounts: dict[Hashable, list[BrokerAccount]]  # trade_updates key -> its accounts


def stream_wants(markets: Callable[[BrokerAccount], MarketData] = account_feed) -> Wants:
    """Per feed, the symbols of active bots and open positions; per Alpaca key, its accounts. A feed
    is the account's own (never imported bars): what the stream carries, and what the exit watcher
    knows positions by."""
    feeds: dict[Hashable, FeedWant] = {}

    def want(account: BrokerAccount) -> FeedWant | None:
        try:
            market = markets(account)
        except (BrokerError, BrokerAccountUnusable) as exc:  # an unusable account streams nothing
            logger.warning("no stream for broker account %s: %s", account.pk, exc)
            return None
        entry = feeds.setdefault(market.identity, FeedWant(account=account, market=market))
        entry.account_ids.add(account.pk)
        return entry

    for bot in Bot.objects.filter(status__in=ACTIVE).select_related("broker_account"):
        if (entry := want(bot.broker_account)) is not None:
            for symbol in bot.symbols:
                entry.audience.setdefault(symbol, set()).add(bot.owner_id)
                entry.bots.setdefault(symbol, set()).add((bot.pk, bot.timeframe))
    for position in Position.objects.filter(is_open=True, bot__isnull=False).select_related("bot__broker_account"):
        if (entry := want(position.bot.broker_account)) is not None:
            entry.audience.setdefault(position.symbol, set()).add(position.owner_id)
            entry.held.add(position.symbol)
    accounts = BrokerAccount.objects.filter(kind=BrokerAccount.Kind.ALPACA).filter(
        pk__in=[a for entry in feeds.values() for a in entry.account_ids]
        + list(Trade.objects.pending().values_list("bot__broker_account_id", flat=True))
    )
    orders: dict[Hashable, list[BrokerAccount]] = {}
    for account in accounts:
        try:
            key = _order_stream_key(account)
        except BrokerAccountUnusable as exc:
            logger.warning("no trade_updates for broker account %s: %s", account.pk, exc)
            continue
        orders.setdefault(key, []).append(account)
    return Wants(feeds, orders)


def _order_stream_key(account: BrokerAccount) -> tuple[str, str, str, bool]:
    api_key, secret_key = account.credentials()
    return (trading_stream_url(account), api_key, secret_key, account.paper)


def trading_stream_url(account: BrokerAccount) -> str:
    if settings.ALPACA_TRADING_STREAM_URL:
        return settings.ALPACA_TRADING_STREAM_URL
    parts = urlsplit(account.trading_url)
    return urlunsplit(("wss" if parts.scheme == "https" else "ws", parts.netloc, "/stream", "", ""))


def data_stream_url(account: BrokerAccount) -> str:
    return f"{settings.ALPACA_DATA_STREAM_URL.rstrip('/')}/{account.data_feed}"


class PriceBoard:
    """The latest trade per (feed, symbol), handed out at most once per `interval` each."""

    def __init__(self, interval: float = PRICE_INTERVAL):
        self.interval = interval
        self._latest: dict[tuple[Hashable, str], StreamTrade] = {}
        self._sent: dict[tuple[Hashable, str], float] = {}
        self._lock = threading.Lock()

    def offer(self, feed: Hashable, trade: StreamTrade) -> None:
        with self._lock:
            self._latest[(feed, trade.symbol)] = trade

    def due(self, now: float) -> list[tuple[Hashable, StreamTrade]]:
        with self._lock:
            keys = [key for key in self._latest if now - self._sent.get(key, 0.0) >= self.interval]
            for key in keys:
                self._sent[key] = now
            return [(key[0], self._latest.pop(key)) for key in keys]


class StreamService:
    """Runs the streams every account needs and applies what they carry. `run_in` runs the work that
    publishes events (the embedded run passes daphne's loop, where its in-memory channel layer lives)."""

    def __init__(
        self,
        *,
        run_in: Callable[[Callable[[], object]], object] | None = None,
        sim_clock: Callable[[], datetime] | None = None,
        reconcile_seconds: float = RECONCILE_SECONDS,
        reconcile_accounts: bool = True,
    ):
        self._run_in = run_in or (lambda work: work())
        self._sim_clock = sim_clock
        self._reconcile_seconds = reconcile_seconds
        self._reconcile_accounts = reconcile_accounts
        self.prices = PriceBoard()
        self.wants = Wants({}, {})
        self.market_streams: dict[Hashable, AlpacaMarketStream | SimulatedStream] = {}
        self.order_streams: dict[Hashable, AlpacaOrderStream] = {}
        self._resend: set[Hashable] = set()
        self._ticked: dict[int, datetime] = {}
        self._ticked_lock = threading.Lock()
        self.messages = 0
        self.exit_watch = ExitWatch()
        self._exits: queue.SimpleQueue[tuple[Hashable, StreamTrade] | tuple[()] | None] = queue.SimpleQueue()
        self._held: set[tuple[Hashable, str]] = set()
        self._bots_marker: tuple = ()
        self._orders = ThreadPoolExecutor(1, "stream-orders")  # one at a time: an order's updates in order
        self._work = ThreadPoolExecutor(WORKERS, "stream-work")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._reconcile_loop, name="stream-reconcile", daemon=True),
            threading.Thread(target=self._price_loop, name="stream-prices", daemon=True),
            # One thread: the exit watcher takes its trades in order, from one thread.
            threading.Thread(target=self._exit_loop, name="stream-exits", daemon=True),
        ]

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> "StreamService":
        if self._reconcile_accounts:
            self._work.submit(self._guarded, accounts_reconcile)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._exits.put(None)
        for thread in self._threads:
            thread.join(10)
        for stream in [*self.market_streams.values(), *self.order_streams.values()]:
            stream.stop()
        for pool, workers in ((self._orders, 1), (self._work, WORKERS)):
            _close_connections(pool, workers)
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "StreamService":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def reconcile_soon(self) -> None:
        self._wake.set()

    def _reconcile_loop(self) -> None:
        while not self._stopping.is_set():
            settled = False
            try:
                settled = self.reconcile()
            except Exception:
                logger.exception("the stream could not reconcile its subscriptions")
            finally:
                close_old_connections()
            # A connection between sessions takes its subscriptions once it is up: look again soon.
            self._wait_for_change(self._reconcile_seconds if settled else RETRY_SECONDS)
        connections.close_all()

    def _wait_for_change(self, seconds: float) -> None:
        """Until a wake-up, a bot started, stopped, edited, created or deleted (from any process: their
        rows change), or `seconds`."""
        deadline = time.monotonic() + seconds
        while not self._wake.wait(min(BOT_POLL_SECONDS, max(deadline - time.monotonic(), 0))):
            if time.monotonic() >= deadline or self._bots_changed():
                break
        self._wake.clear()

    def _bots_changed(self) -> bool:
        try:
            marker = tuple(Bot.objects.aggregate(Max("updated_at"), Count("pk")).values())
        except OperationalError:
            return False
        changed, self._bots_marker = marker != self._bots_marker, marker
        return changed

    def reconcile(self) -> bool:
        """Open, follow and close the connections to what the bots and positions want now; False when
        a connection between sessions could not take its subscriptions yet."""
        wants = stream_wants()
        self.wants = wants
        held = {(feed, symbol) for feed, want in wants.feeds.items() for symbol in want.held}
        if held != self._held:  # a position opened or closed: the exit watcher reads them again now
            self._held = held
            self._exits.put(REFRESH)
        settled = True
        for feed, stream in self.market_streams.items():
            if feed not in wants.feeds:
                settled &= stream.set_symbols(())
        for feed, want in wants.feeds.items():
            stream = self.market_streams.get(feed)
            if stream is None:
                stream = self.market_streams[feed] = self._market_stream(feed, want)
            if not stream.set_symbols(want.symbols, resend=feed in self._resend):
                settled = False
            elif stream.in_session:
                self._resend.discard(feed)
        for key in wants.order_accounts.keys() - self.order_streams.keys():
            url, api_key, secret_key, paper = key
            self.order_streams[key] = AlpacaOrderStream(
                account=key, url=url, api_key=api_key, secret_key=secret_key, paper=paper, sink=self
            )
        record_stream(self.report())
        self._tell_streams_down(wants)
        return settled

    def _tell_streams_down(self, wants: Wants) -> None:
        """The owners of the accounts behind a market data stream down for minutes hear of it once."""
        now = time.time()
        for feed, stream in self.market_streams.items():
            since, want = stream.state.down_since, wants.feeds.get(feed)
            if since is None or want is None or now - since < notices.DOWN_FOR.total_seconds():
                continue
            for account in BrokerAccount.objects.filter(pk__in=want.account_ids):
                notices.stream_down(account=account, since=datetime.fromtimestamp(since, UTC))

    def _market_stream(self, feed: Hashable, want: FeedWant) -> AlpacaMarketStream | SimulatedStream:
        account = want.account
        if account.kind == BrokerAccount.Kind.ALPACA:
            api_key, secret_key = account.credentials()
            return AlpacaMarketStream(
                feed=feed,
                url=data_stream_url(account),
                api_key=api_key,
                secret_key=secret_key,
                data_feed=account.data_feed,
                sink=self,
            )
        return SimulatedStream(feed=feed, seed=want.market.seed, sink=self, clock=self._sim_clock)

    def report(self) -> list[dict]:
        now = time.time()
        streams = [*self.market_streams.values(), *self.order_streams.values()]
        return [stream.state.report(now) for stream in streams]

    # --- what the streams deliver (on their reading loops: hand on, return) ----------------------

    def trade(self, feed: Hashable, trade: StreamTrade) -> None:
        self.messages += 1
        metrics.stream_event("data", "trade", lag_seconds=time.time() - trade.at.timestamp())
        if self.exit_watch.watches(feed, trade.symbol):  # most symbols have no stop to watch
            self._exits.put((feed, trade))
        self.prices.offer(feed, trade)

    def bar(self, feed: Hashable, bar: StreamBar) -> None:
        self.messages += 1
        metrics.stream_event("data", "bar")
        self._work.submit(self._guarded, self._bar_closed, feed, bar)

    def order_update(self, account: Hashable, event: str, result: OrderResult) -> None:
        self.messages += 1
        metrics.stream_event("trading", "order_update")
        self._orders.submit(self._guarded, self._order_update, account, event, result)

    def gap(self, source: Hashable, since: datetime) -> None:
        logger.warning("stream %s reconnected; back-filling since %s", source, since.isoformat())
        metrics.stream_event("data" if source in self.market_streams else "trading", "reconnected")
        self._resend.add(source)
        self._wake.set()
        self._work.submit(self._guarded, self._backfill, source, since)

    # --- the work -------------------------------------------------------------------------------

    def _guarded(self, work: Callable, *args) -> None:
        """Run `work` (each is idempotent), again after a moment if the database was busy."""
        for attempt in range(1, WORK_ATTEMPTS + 1):
            try:
                self._run_in(lambda: work(*args))
                return
            except OperationalError:
                if attempt == WORK_ATTEMPTS:
                    logger.exception("stream work %s failed: the database stayed busy", work.__name__)
                time.sleep(0.05 * attempt)
            except Exception:
                logger.exception("stream work %s failed", work.__name__)
                return
            finally:
                close_old_connections()

    def _price_loop(self) -> None:
        while not self._stopping.wait(FLUSH_SECONDS):
            due = self.prices.due(time.monotonic())
            if due:
                self._guarded(self._publish_prices, due)
        connections.close_all()

    def _exit_loop(self) -> None:
        """Trades of watched symbols to the exit watcher; and every EXIT_REFRESH_SECONDS the positions it
        watches, read again (trades of symbols it does not watch never reach it to prompt that)."""
        refreshed = 0.0
        while True:
            try:
                item = self._exits.get(timeout=EXIT_REFRESH_SECONDS)
            except queue.Empty:
                item = REFRESH
            if item is None:
                break
            if item == REFRESH or time.monotonic() - refreshed >= EXIT_REFRESH_SECONDS:
                refreshed = time.monotonic()
                self._guarded(self.exit_watch.refresh)
            if item == REFRESH:
                continue
            self._guarded(self.watch_exits, *item)  # again if the database was busy: one order per trigger
        connections.close_all()

    @property
    def exits_idle(self) -> bool:
        return self._exits.empty()

    def watch_exits(self, feed: Hashable, trade: StreamTrade) -> list[Trade]:
        """The exits this trade triggers, sent."""
        return self.exit_watch.trade_seen(feed=feed, symbol=trade.symbol, price=trade.price, at=trade.at)

    def _publish_prices(self, due: list[tuple[Hashable, StreamTrade]]) -> None:
        prices, held = [], []
        for feed, trade in due:
            want = self.wants.feeds.get(feed)
            if want is None:
                continue
            payload = {"symbol": trade.symbol, "price": trade.price, "timestamp": trade.at}
            prices.extend(("price_update", payload, user_id) for user_id in want.audience.get(trade.symbol, ()))
            if trade.symbol in want.held:
                held.append((want, trade))
        publish_many(prices)
        for want, trade in held:
            positions = Position.objects.filter(
                is_open=True, symbol=trade.symbol, bot__broker_account_id__in=want.account_ids
            )
            for position in positions:
                position_mark(position=position, price=trade.price)

    def _bar_closed(self, feed: Hashable, bar: StreamBar) -> None:
        """Tick, at once, the bots whose bar this closes (each once per close, however many symbols)."""
        want = self.wants.feeds.get(feed)
        if want is None:
            return
        closes = bar.opened + _MINUTE
        for bot_id, timeframe in sorted(want.bots.get(bar.symbol, ())):
            if timeframe == DAILY or epoch_seconds(closes) % int(TIMEFRAMES[timeframe].total_seconds()):
                continue  # not this timeframe's boundary (daily bars: beat's schedule)
            with self._ticked_lock:
                if self._ticked.get(bot_id, datetime.min.replace(tzinfo=UTC)) >= closes:
                    continue
                self._ticked[bot_id] = closes
            self._work.submit(self._guarded, _tick, bot_id)  # side by side: one slow tick holds up no other

    def _order_update(self, key: Hashable, event: str, result: OrderResult) -> None:
        accounts = self.wants.order_accounts.get(key, [])
        trade = order_update_apply(account_ids=[account.pk for account in accounts], result=result)
        if trade is not None and trade.status != Trade.Status.PENDING:
            self._wake.set()  # a position opened or closed: follow it

    def _backfill(self, source: Hashable, since: datetime) -> None:
        """What a connection missed while down: order updates are settled over REST, minute bars are
        fetched and handled as if streamed (their last close becomes the price)."""
        if source in self.wants.order_accounts:
            account_ids = [account.pk for account in self.wants.order_accounts[source]]
            pending_orders_settle(account_ids=account_ids)
            broker_stops_settle(account_ids=account_ids)  # a stop resting at Alpaca may have filled meanwhile
            return
        want = self.wants.feeds.get(source)
        if want is None:
            return
        now = timezone.now()
        start = since.replace(second=0, microsecond=0)
        for symbol in sorted(want.symbols):
            bars = want.market.bars(symbol, "1Min", start=start, end=now)
            for opened, row in bars.iterrows():
                streamed = StreamBar(
                    symbol=symbol,
                    timeframe="1Min",
                    opened=opened.to_pydatetime(),
                    open=_money(row.open),
                    high=_money(row.high),
                    low=_money(row.low),
                    close=_money(row.close),
                    volume=int(row.volume),
                )
                self._bar_closed(source, streamed)
            if len(bars):
                closed = bars.index[-1].to_pydatetime() + _MINUTE
                self.prices.offer(source, StreamTrade(symbol, _money(bars.close.iloc[-1]), 0, closed))


def _close_connections(pool: ThreadPoolExecutor, workers: int) -> None:
    """Each of the pool's threads closes its database connection (a barrier makes every one take a turn)."""
    barrier = threading.Barrier(workers)

    def close() -> None:
        with suppress(threading.BrokenBarrierError):
            barrier.wait(1)  # a pool that started fewer threads breaks it: they close all the same
        connections.close_all()

    for _ in range(workers):
        pool.submit(close)


def _tick(bot_id: int) -> None:
    bot_tick(bot_id=bot_id)


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.01"))
