"""A real headless Chromium, driven over the DevTools protocol, for `--from-browser` tests.

    with HeadlessChromium(profile_dir) as browser:        # fresh --user-data-dir
        browser.sign_in(sandbox.url, "demo", "demo-password")
    # leaving the block closes the browser (Browser.close) and waits for it to exit, so the
    # cookies are on disk

`chromium_binary()` is Debian's /usr/lib/chromium/chromium (the /usr/bin wrapper adds flags
and misbehaves under test), or None: the tests skip, saying that `.ci/run` installs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from util import scaled

CHROMIUM = Path("/usr/lib/chromium/chromium")


def chromium_binary() -> Path | None:
    return CHROMIUM if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK) else None


class _Browser:
    """What both browsers share: the process, and closing it when the block ends."""

    EXIT_WAIT = 30.0  # seconds to let the browser write its files and exit

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.proc: subprocess.Popen[bytes] | None = None
        self._ids = 0

    def _close(self) -> None:
        """Ask the browser to close (its protocol's way)."""
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.proc is not None
        try:
            self._close()
        except Exception:
            self.proc.terminate()
        try:
            self.proc.wait(scaled(self.EXIT_WAIT))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class HeadlessChromium(_Browser):
    def __enter__(self) -> HeadlessChromium:
        binary = chromium_binary()
        assert binary is not None
        args = [
            str(binary),
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0",
            "--password-store=basic",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        self.port, self.browser_path = self._devtools_address()
        return self

    def _devtools_address(self) -> tuple[int, str]:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + scaled(30)
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            lines = marker.read_text().splitlines() if marker.exists() else []
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
            time.sleep(0.05)
        raise RuntimeError("chromium did not write DevToolsActivePort")

    def _call(self, ws: Any, method: str, **params: Any) -> dict[str, Any]:
        self._ids += 1
        ws.send(json.dumps({"id": self._ids, "method": method, "params": params}))
        while True:
            message = json.loads(ws.recv(timeout=scaled(30)))
            if message.get("id") == self._ids:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def _page_socket(self) -> str:
        import httpx

        targets = httpx.get(f"http://127.0.0.1:{self.port}/json/list", timeout=scaled(10)).json()
        pages = [t for t in targets if t.get("type") == "page"]
        return str(pages[0]["webSocketDebuggerUrl"])

    def evaluate(self, ws: Any, expression: str) -> Any:
        answer = self._call(ws, "Runtime.evaluate", expression=expression, returnByValue=True)
        return answer.get("result", {}).get("value")

    def wait_for(self, ws: Any, expression: str) -> Any:
        deadline = time.monotonic() + scaled(30)
        while time.monotonic() < deadline:
            value = self.evaluate(ws, expression)
            if value:
                return value
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {expression}")

    def sign_in(self, url: str, username: str, password: str) -> list[dict[str, Any]]:
        """Fill and submit the sign-in form like a user (remember-me ticked); the cookies
        the browser then holds for the page."""
        from websockets.sync.client import connect

        with connect(self._page_socket(), max_size=None) as ws:
            self._call(ws, "Page.navigate", url=url + "/users/sign_in")
            self.wait_for(
                ws, "document.readyState === 'complete' && !!document.getElementById('user_login')"
            )
            self.evaluate(
                ws,
                f"document.getElementById('user_login').value = {json.dumps(username)};"
                f"document.getElementById('user_password').value = {json.dumps(password)};"
                "document.getElementById('user_remember_me').checked = true;"
                "document.getElementById('new_user').requestSubmit(); true",
            )
            self.wait_for(ws, "location.pathname === '/' && document.readyState === 'complete'")
            cookies = self._call(ws, "Network.getCookies", urls=[url + "/"])
        return list(cookies.get("cookies", []))

    def _close(self) -> None:
        from websockets.sync.client import connect

        url = f"ws://127.0.0.1:{self.port}{self.browser_path}"
        with connect(url, max_size=None) as ws:
            self._call(ws, "Browser.close")


FIREFOX = Path("/usr/lib/firefox-esr/firefox-esr")

# Keep a test Firefox off the network: everything but the loopback goes to a dead proxy, and
# the background services that would call out are off.
FIREFOX_PREFS = {
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.no_proxies_on": "localhost, 127.0.0.1",
    "network.proxy.allow_hijacking_localhost": False,
    "app.update.enabled": False,
    "app.normandy.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/v1",
    "messaging-system.rsexperimentloader.enabled": False,
    "extensions.update.enabled": False,
}


def firefox_binary() -> Path | None:
    return FIREFOX if FIREFOX.is_file() and os.access(FIREFOX, os.X_OK) else None


class HeadlessFirefox(_Browser):
    """Firefox ESR driven over WebDriver BiDi (`--remote-debugging-port=0`), its profile a
    fresh directory; leaving the block closes it (browser.close) and waits for the exit, when
    Firefox writes its session store."""

    EXIT_WAIT = 60.0

    def __init__(self, profile: Path) -> None:
        super().__init__(profile)
        self._ws: Any = None

    def __enter__(self) -> HeadlessFirefox:
        from websockets.sync.client import connect

        binary = firefox_binary()
        assert binary is not None
        self.profile.mkdir(parents=True, exist_ok=True)
        prefs = "".join(
            f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in FIREFOX_PREFS.items()
        )
        (self.profile / "user.js").write_text(prefs)
        self.proc = subprocess.Popen(
            [
                str(binary),
                "--headless",
                "--no-remote",
                "--profile",
                str(self.profile),
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        self._stack = contextlib.ExitStack()
        self._ws = self._stack.enter_context(connect(self._bidi_url() + "/session", max_size=None))
        self._call("session.new", capabilities={})
        return self

    def _bidi_url(self) -> str:
        import re
        import selectors

        assert self.proc is not None
        assert self.proc.stderr is not None
        deadline = time.monotonic() + scaled(60)
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stderr, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=1):
                    continue
                chunk = os.read(self.proc.stderr.fileno(), 65536)
                if not chunk:
                    break
                buffer += chunk
                found = re.search(rb"WebDriver BiDi listening on (ws://[0-9.:]+)", buffer)
                if found:
                    return found.group(1).decode()
        raise RuntimeError("firefox did not start WebDriver BiDi")

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        self._ids += 1
        self._ws.send(json.dumps({"id": self._ids, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=scaled(30)))
            if message.get("id") == self._ids:
                if message.get("type") == "error":
                    raise RuntimeError(f"{method}: {message.get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, context: str, expression: str) -> Any:
        answer = self._call(
            "script.evaluate",
            expression=expression,
            target={"context": context},
            awaitPromise=False,
        )
        return answer.get("result", {}).get("value")

    def sign_in(self, url: str, username: str, password: str) -> list[dict[str, Any]]:
        context = self._call("browsingContext.getTree")["contexts"][0]["context"]
        self._call(
            "browsingContext.navigate", context=context, url=url + "/users/sign_in", wait="complete"
        )
        self.evaluate(
            context,
            f"document.getElementById('user_login').value = {json.dumps(username)};"
            f"document.getElementById('user_password').value = {json.dumps(password)};"
            "document.getElementById('user_remember_me').checked = true;"
            "document.getElementById('new_user').requestSubmit(); true",
        )
        deadline = time.monotonic() + scaled(30)
        while self.evaluate(context, "location.pathname + document.readyState") != "/complete":
            if time.monotonic() > deadline:
                raise RuntimeError("firefox did not finish signing in")
            time.sleep(0.05)
        return list(self._call("storage.getCookies").get("cookies", []))

    def _close(self) -> None:
        self._call("browser.close")
        self._stack.close()
