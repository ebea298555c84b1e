"""A local stand-in for Alpaca's trading and market data APIs, wire-compatible with alpaca-py 0.44
(see /work/shared/reference/alpaca-wire.md), so the real client runs against it via `url_override`.

One server answers both APIs (their paths do not collide). Tests steer it through the methods on
`AlpacaStub` and assert on `stub.requests`, the log of what actually arrived on the wire.
"""

import base64
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from time import monotonic
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
OPEN_STATUSES = {
    "new",
    "partially_filled",
    "accepted",
    "pending_new",
    "pending_cancel",
    "pending_replace",
    "accepted_for_bidding",
    "held",
    "stopped",
    "pending_review",
    "done_for_day",
    "calculated",
    "suspended",
}
TIMEFRAME_PATTERN = re.compile(r"^(\d+)(Min|Hour|Day|Week|Month)$")
MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 1_000


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    at: float = field(default_factory=monotonic)  # when it arrived


@dataclass
class _Failure:
    path_prefix: str
    method: str | None
    status: int | None
    delay: float
    times: int
    body: str | None
    headers: dict[str, str]

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path_prefix) and self.method in (None, method)


class ApiError(Exception):
    def __init__(self, status: int, code: int | None, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        return {"message": self.message} if self.code is None else {"code": self.code, "message": self.message}


def wire_number(value: Decimal) -> str:
    """Alpaca sends money and quantities as plain decimal strings: "10", "187.25"."""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def wire_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_query_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class AlpacaStub:
    def __init__(self, api_key: str = "key", secret_key: str = "secret"):
        self.api_key, self.secret_key = api_key, secret_key
        # Market orders stay 'accepted' instead of filling, as outside market hours.
        self.accept_without_fill = False
        # The most bars one page carries, so tests can force pagination with a few bars.
        self.bars_page_size = MAX_PAGE_SIZE
        self.requests: list[RecordedRequest] = []
        # Exceptions raised inside the stub itself; the fixture fails the test if any occurred.
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._failures: list[_Failure] = []
        self._prices: dict[str, Decimal] = {}
        self._bars: dict[tuple[str, str, str | None], list[dict]] = {}
        self._orders: dict[str, dict] = {}
        self._positions: dict[str, dict] = {}
        self._cash = Decimal("100000")
        self._buying_power = Decimal("200000")
        self._clock: dict | None = None
        self._calendar: list[dict] | None = None
        self._account_id = str(uuid.uuid4())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "AlpacaStub":
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="alpaca-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in an injected delay
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> "AlpacaStub":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- test controls -------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Decimal | str | float) -> None:
        with self._lock:
            self._prices[symbol] = Decimal(str(price))

    def load_bars(self, symbol: str, timeframe: str, bars, *, feed: str | None = None) -> None:
        """`bars`: rows of (open time, open, high, low, close, volume). With `feed` ("iex", "sip"),
        only requests for that data feed get them; otherwise every feed does."""
        with self._lock:
            self._bars[(symbol, timeframe, feed)] = sorted(
                (
                    {
                        "_time": moment.astimezone(UTC),
                        "t": wire_time(moment),
                        "o": float(o),
                        "h": float(h),
                        "l": float(lo),
                        "c": float(c),
                        "v": float(v),
                        "n": 1,
                        "vw": float((h + lo + c) / 3),
                    }
                    for moment, o, h, lo, c, v in bars
                ),
                key=lambda bar: bar["_time"],
            )

    def set_clock(
        self, *, is_open: bool, next_open: datetime, next_close: datetime, timestamp: datetime | None = None
    ) -> None:
        with self._lock:
            self._clock = {"is_open": is_open, "next_open": next_open, "next_close": next_close, "timestamp": timestamp}

    def set_calendar(self, days: list[tuple[date, str, str]]) -> None:
        """Trading days as (date, "HH:MM" open, "HH:MM" close), Eastern Time."""
        with self._lock:
            self._calendar = [{"date": d.isoformat(), "open": o, "close": c} for d, o, c in days]

    def set_account(self, *, cash: Decimal | str | None = None, buying_power: Decimal | str | None = None) -> None:
        with self._lock:
            if cash is not None:
                self._cash = Decimal(str(cash))
            if buying_power is not None:
                self._buying_power = Decimal(str(buying_power))

    def add_position(self, symbol: str, qty: int | str, avg_entry_price: Decimal | str) -> None:
        with self._lock:
            self._positions[symbol] = {"qty": Decimal(str(qty)), "avg_entry_price": Decimal(str(avg_entry_price))}

    def fail_next(
        self,
        path_prefix: str,
        status: int | None = 503,
        *,
        times: int = 1,
        delay: float = 0.0,
        method: str | None = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `times` requests whose path starts with `path_prefix` (and of `method`, if given)
        wait `delay` seconds, then answer `status` (with `headers`, e.g. Retry-After) without acting.
        With `status=None` the request is handled normally and only its response is delayed, like a
        broker that acted but answered late."""
        with self._lock:
            self._failures.append(_Failure(path_prefix, method, status, delay, times, body, headers or {}))

    def recover(self) -> None:
        """Stop every injected failure: the stand-in answers normally again."""
        with self._lock:
            self._failures.clear()

    def hang_next(self, path_prefix: str, seconds: float, *, times: int = 1, method: str | None = None) -> None:
        self.fail_next(path_prefix, None, times=times, delay=seconds, method=method)

    def update_order(self, client_order_id: str, /, **wire_fields) -> None:
        """Overwrite fields of a stored order as they appear on the wire, e.g. status="expired", or
        with a whole wire order (`**order`, which may carry its own client_order_id)."""
        with self._lock:
            self._order_by_client_id(client_order_id).update(wire_fields)

    def fill_stop(self, client_order_id: str, /, price: Decimal | str | None = None, *, qty: int | None = None) -> dict:
        """The price traded through a resting stop: Alpaca fills it (`qty` shares of it, all that is
        left by default) at `price` (its stop price by default), as a market order would."""
        with self._lock:
            order = self._order_by_client_id(client_order_id)
            if order["type"] != "stop" or order["status"] not in OPEN_STATUSES:
                raise ValueError(f"{client_order_id} is no resting stop ({order['type']}, {order['status']})")
            fill_price = Decimal(str(price if price is not None else order["stop_price"]))
            self._fill(order, fill_price, None if qty is None else Decimal(qty))
            return dict(order)

    @property
    def orders(self) -> list[dict]:
        with self._lock:
            return [dict(order) for order in self._orders.values()]

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix) and method in (None, r.method)]

    # --- request handling (called from server threads) ---------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(raw_path)
        path, query = split.path, dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            return 400, {"code": 40010000, "message": "request body is not JSON"}, {}
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, body, headers))
            failure = self._take_failure(method, path)
        if failure is not None and failure.status is not None:
            self._stopping.wait(failure.delay)
            body = failure.body if failure.body is not None else _failure_body(failure.status)
            return failure.status, body, failure.headers
        try:
            self._authenticate(headers)
            with self._lock:
                status, payload = self._route(method, path, query, body)
        except ApiError as error:
            status, payload = error.status, error.body()
        if failure is not None:
            self._stopping.wait(failure.delay)
        return status, payload, {}

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        for failure in self._failures:
            if failure.matches(method, path):
                failure.times -= 1
                if failure.times == 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _authenticate(self, headers: dict[str, str]) -> None:
        key, secret = headers.get("apca-api-key-id"), headers.get("apca-api-secret-key")
        if not key or not secret:
            raise ApiError(401, 40110000, "request is not authorized")
        if (key, secret) != (self.api_key, self.secret_key):
            raise ApiError(403, None, "forbidden.")  # what Alpaca answers for wrong keys: no code

    def _route(self, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
        routes = [
            ("GET", r"/v2/account", self._get_account),
            ("POST", r"/v2/orders", self._post_order),
            ("GET", r"/v2/orders", self._list_orders),
            ("GET", r"/v2/orders:by_client_order_id", self._get_order_by_client_id),
            ("GET", r"/v2/orders/(?P<order_id>[^/]+)", self._get_order),
            ("DELETE", r"/v2/orders/(?P<order_id>[^/]+)", self._cancel_order),
            ("GET", r"/v2/positions", self._list_positions),
            ("GET", r"/v2/positions/(?P<symbol>.+)", self._get_position),
            ("GET", r"/v2/clock", self._get_clock),
            ("GET", r"/v2/calendar", self._get_calendar),
            ("GET", r"/v2/stocks/bars", self._get_bars),
            ("GET", r"/v2/stocks/trades/latest", self._get_latest_trades),
        ]
        for route_method, pattern, view in routes:
            match = re.fullmatch(pattern, path)
            if match and route_method == method:
                return view(query=query, body=body, **match.groupdict())
        raise ApiError(404, 40410000, "endpoint not found")

    # --- trading API ---------------------------------------------------------------------------

    def _get_account(self, **_) -> tuple[int, dict]:
        long_value = sum(
            (p["qty"] * self._prices.get(s, p["avg_entry_price"]) for s, p in self._positions.items()), Decimal(0)
        )
        equity = self._cash + long_value
        return 200, {
            "id": self._account_id,
            "account_number": "PA1234567",
            "status": "ACTIVE",
            "currency": "USD",
            "buying_power": wire_number(self._buying_power),
            "cash": wire_number(self._cash),
            "portfolio_value": wire_number(equity),
            "equity": wire_number(equity),
            "long_market_value": wire_number(long_value),
            "short_market_value": "0",
            "multiplier": "2",
            "pattern_day_trader": False,
            "trading_blocked": False,
            "account_blocked": False,
            "daytrade_count": 0,
        }

    def _post_order(self, body: dict, **_) -> tuple[int, dict]:
        order = self._validated_order(body or {})
        if any(o["client_order_id"] == order["client_order_id"] for o in self._orders.values()):
            raise ApiError(422, 40010001, "client_order_id must be unique")
        qty, symbol = Decimal(order["qty"]), order["symbol"]
        price = self._prices[symbol]
        if order["side"] == "buy" and qty * price > self._buying_power:
            raise ApiError(403, 40310000, "insufficient buying power")
        available = self._available(symbol)
        if order["side"] == "sell" and qty > available:
            # As Alpaca: shares an open sell (a resting stop) holds are not available to another sell.
            raise ApiError(
                403,
                40310000,
                f"insufficient qty available for order (requested: {wire_number(qty)}, "
                f"available: {wire_number(available)})",
            )
        self._orders[order["id"]] = order
        if order["type"] == "market" and not self.accept_without_fill:
            self._fill(order, price)
        return 200, dict(order)

    def _available(self, symbol: str) -> Decimal:
        held = self._positions.get(symbol, {}).get("qty", Decimal(0))
        selling = sum(
            (
                Decimal(o["qty"]) - Decimal(o["filled_qty"])
                for o in self._orders.values()
                if o["symbol"] == symbol and o["side"] == "sell" and o["status"] in OPEN_STATUSES
            ),
            Decimal(0),
        )
        return held - selling

    def _validated_order(self, body: dict) -> dict:
        symbol, side, order_type = body.get("symbol"), body.get("side"), body.get("type")
        if symbol not in self._prices:
            raise ApiError(422, 40010001, f'asset "{symbol}" not found')
        if side not in ("buy", "sell"):
            raise ApiError(422, 40010001, "side must be buy or sell")
        if order_type not in ("market", "limit", "stop"):
            raise ApiError(422, 40010001, f"order type {order_type} is not supported")
        stop_price = body.get("stop_price")
        if order_type == "stop" and (not isinstance(stop_price, (int, float)) or stop_price <= 0):
            raise ApiError(422, 40010001, "stop_price is required for stop orders")
        if order_type == "stop" and stop_price >= 1 and Decimal(str(stop_price)) != round(Decimal(str(stop_price)), 2):
            raise ApiError(
                422, 42210000, "invalid stop_price: sub-penny increment does not fulfill minimum pricing criteria"
            )
        if body.get("time_in_force") not in ("day", "gtc", "opg", "cls", "ioc", "fok"):
            raise ApiError(422, 40010001, "invalid time_in_force")
        qty = body.get("qty")
        if not isinstance(qty, (int, float)) or qty <= 0:
            raise ApiError(422, 40010001, "qty must be > 0")
        client_order_id = body.get("client_order_id") or str(uuid.uuid4())
        if len(client_order_id) > 128:
            raise ApiError(422, 40010001, "client_order_id must be at most 128 characters")
        now = wire_time(datetime.now(UTC))
        return {
            "id": str(uuid.uuid4()),
            "client_order_id": client_order_id,
            "created_at": now,
            "updated_at": now,
            "submitted_at": now,
            "filled_at": None,
            "expired_at": None,
            "canceled_at": None,
            "failed_at": None,
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": wire_number(Decimal(str(qty))),
            "filled_qty": "0",
            "filled_avg_price": None,
            "order_class": "",
            "order_type": order_type,
            "type": order_type,
            "side": side,
            "time_in_force": body["time_in_force"],
            "limit_price": None if body.get("limit_price") is None else wire_number(Decimal(str(body["limit_price"]))),
            "stop_price": None if stop_price is None else wire_number(Decimal(str(stop_price))),
            "status": "new" if order_type == "stop" else "accepted",
            "extended_hours": bool(body.get("extended_hours", False)),
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }

    def _fill(self, order: dict, price: Decimal, qty: Decimal | None = None) -> None:
        """Fill `qty` more shares of the order (the rest of it by default) at `price`."""
        symbol, done = order["symbol"], Decimal(order["filled_qty"])
        qty = Decimal(order["qty"]) - done if qty is None else qty
        filled = done + qty
        average = (done * Decimal(order["filled_avg_price"] or 0) + qty * price) / filled
        now = wire_time(datetime.now(UTC))
        order.update(
            status="filled" if filled == Decimal(order["qty"]) else "partially_filled",
            filled_qty=wire_number(filled),
            filled_avg_price=wire_number(average),
            filled_at=now,
            updated_at=now,
        )
        position = self._positions.setdefault(symbol, {"qty": Decimal(0), "avg_entry_price": price})
        if order["side"] == "buy":
            total = position["qty"] + qty
            position["avg_entry_price"] = (position["qty"] * position["avg_entry_price"] + qty * price) / total
            position["qty"] = total
            self._cash -= qty * price
            self._buying_power -= qty * price
        else:
            position["qty"] -= qty
            self._cash += qty * price
            self._buying_power += qty * price
        if position["qty"] == 0:
            del self._positions[symbol]

    def _list_orders(self, query: dict, **_) -> tuple[int, list]:
        status = query.get("status", "open")
        limit = min(int(query.get("limit", 50)), 500)
        orders = [
            o for o in self._orders.values() if status == "all" or (o["status"] in OPEN_STATUSES) == (status == "open")
        ]
        if "symbols" in query:
            orders = [o for o in orders if o["symbol"] in query["symbols"].split(",")]
        if "side" in query:
            orders = [o for o in orders if o["side"] == query["side"]]
        orders.sort(key=lambda o: o["submitted_at"], reverse=query.get("direction", "desc") == "desc")
        return 200, [dict(o) for o in orders[:limit]]

    def _get_order(self, order_id: str, **_) -> tuple[int, dict]:
        return 200, dict(self._order_by_id(order_id))

    def _get_order_by_client_id(self, query: dict, **_) -> tuple[int, dict]:
        return 200, dict(self._order_by_client_id(query.get("client_order_id", "")))

    def _cancel_order(self, order_id: str, **_) -> tuple[int, None]:
        order = self._order_by_id(order_id)
        if order["status"] not in OPEN_STATUSES:
            raise ApiError(422, 42210000, f"order is not cancelable (status: {order['status']})")
        now = wire_time(datetime.now(UTC))
        order.update(status="canceled", canceled_at=now, updated_at=now)
        return 204, None

    def _order_by_id(self, order_id: str) -> dict:
        if order_id not in self._orders:
            raise ApiError(404, 40410000, f"order not found for {order_id}")
        return self._orders[order_id]

    def _order_by_client_id(self, client_order_id: str) -> dict:
        for order in self._orders.values():
            if order["client_order_id"] == client_order_id:
                return order
        raise ApiError(404, 40410000, "order not found")

    def _list_positions(self, **_) -> tuple[int, list]:
        return 200, [self._position_json(symbol) for symbol in sorted(self._positions)]

    def _get_position(self, symbol: str, **_) -> tuple[int, dict]:
        if symbol not in self._positions:
            raise ApiError(404, 40410000, "position does not exist")
        return 200, self._position_json(symbol)

    def _position_json(self, symbol: str) -> dict:
        position = self._positions[symbol]
        qty, entry = position["qty"], position["avg_entry_price"]
        price = self._prices.get(symbol, entry)
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, symbol)),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "qty": wire_number(qty),
            "qty_available": wire_number(qty),
            "avg_entry_price": wire_number(entry),
            "side": "long",
            "market_value": wire_number(qty * price),
            "cost_basis": wire_number(qty * entry),
            "unrealized_pl": wire_number(qty * (price - entry)),
            "current_price": wire_number(price),
            "lastday_price": wire_number(price),
            "change_today": "0",
        }

    def _get_clock(self, **_) -> tuple[int, dict]:
        now = datetime.now(NEW_YORK)
        clock = self._clock or {
            "is_open": True,
            "next_open": datetime.combine(now.date() + timedelta(days=1), time(9, 30), NEW_YORK),
            "next_close": datetime.combine(now.date(), time(16), NEW_YORK),
            "timestamp": None,
        }
        # Alpaca answers in Eastern Time with an offset, e.g. 2024-01-02T10:00:00.123456-05:00.
        return 200, {
            "timestamp": (clock["timestamp"] or now).astimezone(NEW_YORK).isoformat(),
            "is_open": clock["is_open"],
            "next_open": clock["next_open"].astimezone(NEW_YORK).isoformat(),
            "next_close": clock["next_close"].astimezone(NEW_YORK).isoformat(),
        }

    def _get_calendar(self, query: dict, **_) -> tuple[int, list]:
        today = date.today()
        start = date.fromisoformat(query["start"]) if "start" in query else today - timedelta(days=30)
        end = date.fromisoformat(query["end"]) if "end" in query else today + timedelta(days=30)
        if self._calendar is not None:
            days = self._calendar
        else:
            span = (start + timedelta(days=n) for n in range((end - start).days + 1))
            days = [{"date": d.isoformat(), "open": "09:30", "close": "16:00"} for d in span if d.weekday() < 5]
        return 200, [day for day in days if start.isoformat() <= day["date"] <= end.isoformat()]

    # --- market data API -----------------------------------------------------------------------

    def _get_bars(self, query: dict, **_) -> tuple[int, dict]:
        timeframe = query.get("timeframe", "")
        if not TIMEFRAME_PATTERN.fullmatch(timeframe):
            raise ApiError(400, 42210000, f"invalid timeframe: {timeframe}")
        start = parse_query_time(query["start"]) if "start" in query else None
        end = parse_query_time(query["end"]) if "end" in query else None
        descending = query.get("sort", "asc") == "desc"
        matching = []
        for symbol in sorted(query.get("symbols", "").split(",")):
            loaded = self._bars.get((symbol, timeframe, query.get("feed"))) or self._bars.get(
                (symbol, timeframe, None), []
            )
            bars = [b for b in loaded if (start is None or b["_time"] >= start) and (end is None or b["_time"] <= end)]
            matching.extend((symbol, bar) for bar in (reversed(bars) if descending else bars))
        offset = int(base64.b64decode(query["page_token"])) if query.get("page_token") else 0
        page_size = min(int(query.get("limit") or DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE, self.bars_page_size)
        page = matching[offset : offset + page_size]
        envelope: dict[str, list] = {}
        for symbol, bar in page:
            envelope.setdefault(symbol, []).append({k: v for k, v in bar.items() if k != "_time"})
        more = offset + page_size < len(matching)
        next_token = base64.b64encode(str(offset + page_size).encode()).decode() if more else None
        return 200, {"bars": envelope, "next_page_token": next_token}

    def _get_latest_trades(self, query: dict, **_) -> tuple[int, dict]:
        now = wire_time(datetime.now(UTC))
        trades = {
            symbol: {"t": now, "x": "V", "p": float(self._prices[symbol]), "s": 100, "c": ["@"], "i": 1, "z": "C"}
            for symbol in query.get("symbols", "").split(",")
            if symbol in self._prices
        }
        return 200, {"trades": trades}


def _failure_body(status: int) -> dict:
    if status == 429:
        return {"code": 42910000, "message": "rate limit exceeded"}
    return {"code": status * 100000, "message": f"injected failure {status}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins every handler thread: a clean shutdown


def _handler_for(stub: AlpacaStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so no idle keep-alive thread outlives a test.
        protocol_version = "HTTP/1.0"
        timeout = 5  # a client that connects and sends nothing cannot pin a thread forever

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw_body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                status, payload, extra_headers = stub.handle(self.command, self.path, headers, raw_body)
            except Exception as error:
                stub.errors.append(error)
                status, payload, extra_headers = 500, {"code": 50000000, "message": f"stub error: {error!r}"}, {}
            data = b"" if payload is None else (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            try:
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra_headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timed out) before we answered

        do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _serve

        def log_message(self, format, *args) -> None:
            pass

    return Handler
