"""cnnc export --web vs ONNX Runtime Web, in headless Chromium.

    compare_web.py [FILE.cnn] [--cnnc BIN] [--seconds S] [--repeat R]
                   [--ort-dir DIR] [--install] [--work DIR] [--test]

For the model (default models/fruit.cnn):
  1. weights: the trainer's initialisation through the PyTorch twin with
     random batchnorm statistics (scripts/compare_onnx.py's make_weights);
  2. `cnnc export --web`, and the twin with the same weights exported to
     ONNX (compare_onnx.py's export_onnx: NHWC input, final activation);
  3. both served on 127.0.0.1 with scripts/web_bench.html, which runs one
     engine per page load in headless Chromium (scripts/cdp.py, real time):
     cnnc's model.predict on an RGBA ImageData of the input size (copy and
     preprocessing inside the timed call), ONNX Runtime Web's wasm backend
     (ort.wasm.min.js, one thread, SIMD) on the same pixels as the
     preprocessed tensor (conversion outside the timed call); --repeat page
     loads of each, alternating, best reported; outputs compared (1e-5);
  4. the bytes each page load fetched from the server (everything but the
     bench page itself): cnnc's NAME.js + NAME.wasm against ONNX Runtime
     Web's JS + wasm and the .onnx file.
ONNX Runtime Web comes from --ort-dir/node_modules/onnxruntime-web (--install
runs `npm install --ignore-scripts onnxruntime-web` there when missing).
Exit 77 with --test when Chromium, torch or the package is missing.
Runs under Debian's Python (/usr/bin/python3 has python3-torch).
"""
import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import cdp  # noqa: E402
import compare_onnx as co  # noqa: E402

SKIP = 77
ORT_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files and records (path, bytes) of each response in served."""
    served = []
    extensions_map = dict(http.server.SimpleHTTPRequestHandler.extensions_map,
                          **{".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"})

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def copyfile(self, source, outputfile):
        n = 0
        while True:
            chunk = source.read(1 << 16)
            if not chunk:
                break
            outputfile.write(chunk)
            n += len(chunk)
        CountingHandler.served.append((self.path.split("?")[0], n))

    def log_message(self, *args):
        pass


def model_facts(cnn):
    name, shape = None, None
    for line in open(cnn):
        parts = line.split()
        if parts[:1] == ["model"]:
            name = parts[1]
        if parts[:1] == ["input"]:
            shape = tuple(int(v) for v in parts[1].split("x"))
    return name, shape


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default=os.path.join(ROOT, "models", "fruit.cnn"))
    ap.add_argument("--cnnc", default=os.path.join(ROOT, "build", "compiler", "cnnc"))
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--repeat", type=int, default=3, help="alternating page loads of each engine; best reported")
    ap.add_argument("--ort-dir", default=os.path.join(ROOT, "build", "ortweb"))
    ap.add_argument("--install", action="store_true", help="npm install onnxruntime-web into --ort-dir if missing")
    ap.add_argument("--work")
    ap.add_argument("--test", action="store_true", help="exit 77 when a tool is missing; 1 when outputs differ")
    a = ap.parse_args()
    fail = SKIP if a.test else 1
    if not os.access(cdp.CHROMIUM, os.X_OK):
        print("compare_web.py: skipped: %s is absent (scripts/install-deps.sh browser)" % cdp.CHROMIUM)
        sys.exit(fail)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("compare_web.py: skipped: no torch in %s (Debian: python3-torch)" % sys.executable)
        sys.exit(fail)
    dist = os.path.join(a.ort_dir, "node_modules", "onnxruntime-web", "dist")
    if not os.path.isdir(dist) and a.install and shutil.which("npm"):
        os.makedirs(a.ort_dir, exist_ok=True)
        print("compare_web.py: npm install --ignore-scripts onnxruntime-web in %s" % a.ort_dir, file=sys.stderr)
        subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "onnxruntime-web"],
                       cwd=a.ort_dir, stdout=sys.stderr)
    if not all(os.path.isfile(os.path.join(dist, f)) for f in ORT_FILES):
        print("compare_web.py: skipped: onnxruntime-web is not in %s (--install)" % a.ort_dir)
        sys.exit(fail)
    ort_version = json.load(open(os.path.join(dist, "..", "package.json")))["version"]

    cnn = os.path.abspath(a.model)
    name, (h, w, c) = model_facts(cnn)
    work = os.path.abspath(a.work or tempfile.mkdtemp(prefix="compare_web_"))
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    py = os.path.join(d, name + "_twin.py")
    co.run([a.cnnc, "--emit", "pytorch", cnn, "-o", py])
    twin = co.load_twin(py)
    weights = os.path.join(d, "weights.safetensors")
    co.make_weights(twin, weights)
    co.run([a.cnnc, "export", cnn, "--weights", weights, "-o", os.path.join(d, "export"), "--web"])
    co.export_onnx(twin, weights, os.path.join(d, name + ".onnx"))
    os.makedirs(os.path.join(work, "ort"), exist_ok=True)
    for f in ORT_FILES:
        shutil.copyfile(os.path.join(dist, f), os.path.join(work, "ort", f))
    shutil.copyfile(os.path.join(HERE, "web_bench.html"), os.path.join(work, "web_bench.html"))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(CountingHandler, directory=work))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    runs = {"cnnc": [], "ort": []}
    fetched = {}
    try:
        with cdp.Browser() as b:
            version = b.version()
            for _ in range(a.repeat):
                for engine in ("cnnc", "ort"):
                    CountingHandler.served.clear()
                    b.open("%s/web_bench.html?engine=%s&model=%s&h=%d&w=%d&c=%d&seconds=%g"
                           % (base, engine, name, h, w, c, a.seconds))
                    r = json.loads(b.wait_for("document.getElementById('result') && "
                                              "document.getElementById('result').textContent",
                                              timeout=120 + 2 * a.seconds))
                    if "error" in r:
                        sys.exit("compare_web.py: %s: %s" % (engine, r["error"]))
                    runs[engine].append(r)
                    fetched[engine] = [(p, n) for p, n in CountingHandler.served if "web_bench.html" not in p]
    finally:
        server.shutdown()
    best = {e: max(rs, key=lambda r: r["images_per_s"]) for e, rs in runs.items()}
    diff = max(abs(x - y) for x, y in zip(best["cnnc"]["probabilities"], best["ort"]["probabilities"]))
    size = {e: sum(n for _, n in fetched[e]) for e in fetched}
    onnx_bytes = sum(n for p, n in fetched["ort"] if p.endswith(".onnx"))
    print("CPU: %s; %s; one thread, one %dx%dx%d image per call; best of %d alternating page loads of %g s; "
          "load average %s" % (co.cpu_model(), version, h, w, c, a.repeat, a.seconds, co.load_average()))
    print("%-28s %12s %s" % ("engine", "images/s", "runs"))
    print("%-28s %12.1f %s" % ("cnnc export --web", best["cnnc"]["images_per_s"],
                               " ".join("%.1f" % r["images_per_s"] for r in runs["cnnc"])))
    print("%-28s %12.1f %s" % ("ONNX Runtime Web %s" % ort_version, best["ort"]["images_per_s"],
                               " ".join("%.1f" % r["images_per_s"] for r in runs["ort"])))
    print("ratio %.2fx; largest |difference| of the outputs %.2e" %
          (best["cnnc"]["images_per_s"] / best["ort"]["images_per_s"], diff))
    for e in ("cnnc", "ort"):
        print("%s downloads %d bytes: %s" % (e, size[e], ", ".join("%s %d" % (os.path.basename(p), n)
                                                                   for p, n in fetched[e])))
    print("cnnc's download / (ONNX Runtime Web's JS + wasm / 10 + the .onnx file): %.3f" %
          (size["cnnc"] / ((size["ort"] - onnx_bytes) / 10.0 + onnx_bytes)))
    if diff > 1e-5:
        print("compare_web.py: outputs differ by %.3g (> 1e-5)" % diff, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
