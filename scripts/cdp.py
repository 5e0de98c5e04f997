"""Headless Chromium driven through the DevTools protocol over a pipe
(--remote-debugging-pipe: commands on the browser's fd 3, replies on its
fd 4, JSON messages ended by NUL). Real time, no virtual clock: pages load
and compute as a user's would, and performance.now() advances.

    with Browser() as b:
        b.open(url, width, height)
        value = b.wait_for("document.getElementById('result').textContent")
        b.screenshot("shot.png")
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

CHROMIUM = os.environ.get("CNNC_CHROMIUM", "/usr/bin/chromium")


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, extra_args=()):
        self.profile = tempfile.mkdtemp(prefix="cnnc-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def fds():  # the browser's fd 3 reads commands, fd 4 writes replies
            os.dup2(to_browser_r, 100)  # first out of the way: the pipe may be on 3 or 4
            os.dup2(from_browser_w, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)

        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                "--remote-debugging-pipe", "--user-data-dir=" + self.profile] + list(extra_args) + ["about:blank"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=fds, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.session = None
        self.events = []  # the protocol's events, in arrival order

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            if self.proc.poll() is None:
                self.send("Browser.close", session=False)
        except (BrowserError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self):
        while b"\0" not in self.buf:
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe (exit %s)" % self.proc.poll())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=True):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read_message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def open(self, url, width=1000, height=900):
        """A new tab of width x height CSS pixels at url."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": width < 600})
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression, await_promise=False):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": await_promise})
        if "exceptionDetails" in r:
            raise BrowserError("%s: %s" % (expression[:80], r["exceptionDetails"].get("exception", {})
                                           .get("description", r["exceptionDetails"].get("text"))))
        return r["result"].get("value")

    def wait_for(self, expression, timeout=60):
        """Polls expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.evaluate(expression)
            if v:
                return v
            time.sleep(0.05)
        raise BrowserError("timed out after %ds waiting for %s" % (timeout, expression))

    def wait_event(self, method, timeout=30):
        """The first event named method (received while waiting or before); it is consumed."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] == method:
                    return self.events.pop(i)["params"]
            if time.monotonic() > deadline:
                raise BrowserError("timed out after %ds waiting for the event %s" % (timeout, method))
            self.evaluate("0")  # a round trip: reads what the browser sent meanwhile
            time.sleep(0.05)

    def press(self, key, code, key_code):
        """A trusted key press (keyDown, keyUp) in the focused element."""
        for t in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": t, "key": key, "code": code,
                                                 "windowsVirtualKeyCode": key_code})

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def version(self):
        return self.send("Browser.getVersion", session=False)["product"]
