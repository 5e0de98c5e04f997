"""Tests of `cnnc export --web` (see tests/web.cmake and docs/deploy.md).

    web_test.py CASE --cnnc BIN --work DIR --trainer BIN --cnn FILE [--classes N]

CASE:
  browser    train the model for one epoch on images drawn here, export it
             with --web, serve the folder and PNGs (gray, RGB, RGBA; the
             input size and others) on 127.0.0.1, open index.html?image=URL
             in headless Chromium (scripts/cdp.py) for each, and compare the page's #result
             with `NAME predict --json` on the same files (1e-5); check that
             Tab reaches the drop zone, Enter opens the file chooser and the
             files chosen there are classified; then take
             a screenshot of the page with several results (kept in the
             work folder as an artifact). Skips when Chromium is absent.
  toolchain  with wasm-ld or clang missing, `cnnc export --web` refuses with
             a message that says what to install, and writes no file
Exit 0 on success, 1 on failure, 77 when a prerequisite is missing (skip).
"""
import argparse
import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "export"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts"))
import export_test as ex  # noqa: E402  (images, training, comparison)
import cdp  # noqa: E402

SKIP = 77
CHROMIUM = cdp.CHROMIUM


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map, **{".wasm": "application/wasm",
                                                                                 ".js": "text/javascript"})

    def log_message(self, *args):
        pass


def serve(root):
    """An HTTP server for root on 127.0.0.1 and a free port, in a thread."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d" % server.server_address[1]


RESULT = "document.getElementById('result') && document.getElementById('result').textContent"


def page_result(browser, url):
    browser.open(url)
    r = json.loads(browser.wait_for(RESULT))
    ex.check("error" not in r, "%s: the page reports %s" % (url, r.get("error")))
    return r


def case_browser(a):
    if not os.access(CHROMIUM, os.X_OK):
        print("%s is absent (scripts/install-deps.sh browser installs it): skipped" % CHROMIUM)
        return SKIP
    name = ex.model_name(a.cnn)
    in_h, in_w, in_c = ex.model_input(a.cnn)
    classes = ["class %d" % k for k in range(a.classes)]
    if a.classes >= 3:
        classes[1] = "caf\u00e9 \"1\" <b>"  # UTF-8 out of the module, text (not markup) in the page
    weights = ex.train(a, name, classes, in_c == 1)
    out = os.path.join(a.work, "export")
    if os.path.isdir(out):
        shutil.rmtree(out)
    p = ex.run([a.cnnc, "export", a.cnn, "--weights", weights, "-o", out, "--web"])
    ex.check(p.stdout == "", "export printed %r" % p.stdout)
    for f in (name + ".wasm", name + ".js", "index.html", name + "_infer.c", name + "_infer.h"):
        ex.check(os.path.isfile(os.path.join(out, f)), "export --web wrote no %s" % f)
    with open(os.path.join(out, name + ".wasm"), "rb") as f:
        ex.check(f.read(4) == b"\0asm", "%s.wasm is not a WebAssembly module" % name)
    page = open(os.path.join(out, "index.html")).read()
    ex.check(not re.search(r'(src|href)="(https?:)?//', page), "index.html refers to another site")

    pngs = ex.test_images(os.path.join(a.work, "images"), in_h, in_w)
    theirs = [json.loads(l) for l in ex.run([a.trainer, "predict", "--weights", weights, "--json"] + pngs,
                                            env=dict(os.environ, OMP_NUM_THREADS="1")).stdout.splitlines()]
    server, base = serve(a.work)
    browser = None
    try:
        browser = cdp.Browser()
        print(browser.version())
        ours = []
        for png in pngs:
            rel = os.path.relpath(png, a.work)
            r = page_result(browser, "%s/export/index.html?image=/%s" % (base, rel))
            ex.check(isinstance(r.get("ms"), (int, float)) and r["ms"] >= 0, "%s: ms is %r" % (rel, r.get("ms")))
            r["path"] = png
            ours.append(r)
        names = [r["class"] for r in ours]
        worst = ex.compare(ours, theirs)
        ex.check(set(names) <= set(classes), "class names %s, the model's %s" % (names, classes))
        shown = browser.evaluate("document.getElementById('classes').textContent")
        ex.check(shown == ", ".join(sorted(classes)), "the page lists the classes as %r" % shown)  # folder order
        print("%s in Chromium: %d PNGs, largest |difference| from predict %.3g" % (name, len(pngs), worst))
        # by keyboard: Tab to the drop zone, Enter opens the file chooser; the
        # chosen files are classified in order, one card each
        browser.open("%s/export/index.html" % base)
        browser.wait_for("document.getElementById('files') && !document.getElementById('files').disabled")
        browser.send("Page.enable")
        browser.send("Page.setInterceptFileChooserDialog", {"enabled": True})
        browser.evaluate("document.activeElement && document.activeElement.blur()")
        browser.press("Tab", "Tab", 9)
        focused = browser.evaluate("document.activeElement.id")
        ex.check(focused == "drop", "Tab focuses %r, not the drop zone" % focused)
        browser.press("Enter", "Enter", 13)
        chooser = browser.wait_event("Page.fileChooserOpened")
        ex.check(chooser.get("mode") == "selectMultiple", "the file chooser takes %s" % chooser.get("mode"))
        picked = pngs[:3]
        browser.send("DOM.setFileInputFiles", {"files": picked, "backendNodeId": chooser["backendNodeId"]})
        tops = browser.wait_for("(() => { const t = Array.from(document.querySelectorAll('#results li .top'));"
                                " return t.length === %d && t.map(e => e.textContent); })()" % len(picked))
        for top, t in zip(tops[::-1], theirs):  # the newest card first
            p = sorted(t["probabilities"])
            ex.check(top == t["class"] or p[-1] - p[-2] <= 1e-5, "%s chosen: %r; predict says %r"
                     % (t["path"], top, t["class"]))
        # screenshots: a desktop and a phone-width window, each with a result
        shots = []
        for tag, width, height in (("desktop", 1000, 800), ("phone", 390, 844)):
            shot = os.path.join(a.work, "screenshot-%s.png" % tag)
            if os.path.exists(shot):
                os.remove(shot)
            rel = os.path.relpath(pngs[3], a.work)
            browser.open("%s/export/index.html?image=/%s" % (base, rel), width, height)
            browser.wait_for(RESULT)
            browser.screenshot(shot)
            ex.check(os.path.isfile(shot) and os.path.getsize(shot) > 1000, "no screenshot written")
            shots.append(shot)
        print("screenshots: %s" % ", ".join(shots))
    except cdp.BrowserError as e:
        raise ex.Failure(str(e))
    finally:
        server.shutdown()
        if browser:
            browser.close()


def case_toolchain(a):
    name = ex.model_name(a.cnn)
    weights = ex.train(a, name, ["a", "b", "c"], False)
    for env, want in (("CNNC_WASM_LD", "apt-get install clang lld"), ("CNNC_WASM_CC", "apt-get install clang lld")):
        out = os.path.join(a.work, "refused")
        if os.path.isdir(out):
            shutil.rmtree(out)
        p = ex.run([a.cnnc, "export", a.cnn, "--weights", weights, "-o", out, "--web"], expect=1,
                   env=dict(os.environ, **{env: "/nonexistent/tool"}))
        ex.check(want in p.stderr and "cnnc: error:" in p.stderr, "%s missing: %s" % (env, p.stderr))
        ex.check("/nonexistent/tool" in p.stderr, "the message does not name the tool: %s" % p.stderr)
        ex.check(not os.path.exists(out), "files written despite the refusal: %s" % out)
    p = ex.run([a.cnnc, "summary", a.cnn, "--web"], expect=1)
    ex.check("--web belongs to 'cnnc export'" in p.stderr, p.stderr)


CASES = {"browser": case_browser, "toolchain": case_toolchain}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--trainer", required=True)
    ap.add_argument("--cnn", required=True)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--tag", help="work folder name (default: the case)")
    a = ap.parse_args()
    try:
        import PIL  # noqa: F401
    except ImportError:
        print("PIL is not available: skipped")
        return SKIP
    a.work = os.path.abspath(os.path.join(a.work, a.tag or a.case))
    os.makedirs(a.work, exist_ok=True)
    try:
        r = CASES[a.case](a)
    except ex.Failure as e:
        print("FAIL %s: %s" % (a.case, e))
        return 1
    if r == SKIP:
        return SKIP
    print("%s: passed" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
