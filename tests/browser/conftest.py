"""The browser suite: Playwright drives Debian's headless Chromium against the whole ASGI application
(HTTP and WebSocket) served by daphne in this process, so a tick run here reaches the open page
through the same in-memory channel layer.

Browser tests run with TRADEBOT_BROWSER=1 only (tests/plugin_suites.py).
"""

import os
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("TRADEBOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class AsgiServer:
    """daphne serving tradebot.asgi in a thread of this process, on a free port of the loopback."""

    def __init__(self):
        from daphne.server import Server  # installs Twisted's asyncio reactor: import it first

        from tradebot.asgi import application

        self.server = Server(
            application=application, endpoints=["tcp:port=0:interface=127.0.0.1"], signal_handlers=False, verbosity=0
        )
        self.thread = threading.Thread(target=self.server.run, name="daphne", daemon=True)

    def start(self, timeout: float = 10) -> str:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.listening_addresses:
            if time.monotonic() > deadline:
                raise RuntimeError("daphne did not start listening")
            time.sleep(0.05)
        host, port = self.server.listening_addresses[0]
        return f"http://{host}:{port}"

    def call(self, function, *args, timeout: float = 60, **kwargs):
        """Run a sync function on the server's event loop (in a worker thread, like a request would), so
        what it publishes reaches the WebSocket consumers listening there."""
        import asyncio

        from asgiref.sync import sync_to_async
        from twisted.internet import reactor

        future = asyncio.run_coroutine_threadsafe(
            sync_to_async(function, thread_sensitive=False)(*args, **kwargs), reactor._asyncioEventloop
        )
        return future.result(timeout)

    def stop(self):
        from twisted.internet import reactor

        reactor.callFromThread(reactor.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """The embedded run's database is a file in WAL mode, where a page's reads never block a tick's write.
    pytest-django's default in-memory SQLite (shared cache) refuses a write at once while any request
    thread reads the same table ("database table is locked"): the browser suite runs on a file too."""
    from django.db import connections

    # The connection holds its own copy of the settings (made when first used): set the name there.
    database = connections["default"].settings_dict
    if database["ENGINE"].endswith(".sqlite3"):
        database["TEST"]["NAME"] = str(tmp_path_factory.mktemp("browser-db") / "tradebot.sqlite3")


@pytest.fixture(scope="session")
def asgi_server():
    # The reactor cannot be restarted: one server for the whole session.
    server = AsgiServer()
    server.url = server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread while it is open (so only for
    # this module), which Django takes for an async context and refuses the test's own ORM calls.
    # They are plain sync calls: allow them.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/New_York")
    page = context.new_page()
    yield page
    context.close()


# Screenshots go where CI keeps them: TRADEBOT_SCREENSHOTS, or tests/browser/screenshots (gitignored).
SCREENSHOTS = Path(os.environ.get("TRADEBOT_SCREENSHOTS") or Path(__file__).parent / "screenshots")


def screenshot(page, name: str) -> None:
    """Save the whole page as <name>.png, named <page>-<width> by convention (e.g. trades-390)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
