"""cnnc export vs ONNX Runtime, one image at a time on one thread.

    compare_onnx.py [FILE.cnn ...] [--cnnc BIN] [--weights W.safetensors] [--seconds S]
                    [--ort-dir DIR] [--install] [--work DIR] [--cc CC] [--json] [--test]

For each model (default: models/fruit.cnn, deep.cnn, fashion.cnn):
  1. weights: --weights (one model only), else the trainer's initialisation
     through the PyTorch twin with random batchnorm statistics (so the folds
     do real work), saved as safetensors;
  2. `cnnc export` and the exported C compiled with CC -O2 -march=native (as
     the project builds) into scripts/export_bench.c: NAME_predict_tensor's
     images/s, one NAME_predict call on a 640x480 RGB image (resize
     included), the object's size;
  3. the PyTorch twin (`cnnc --emit pytorch`) with the same weights, the
     final sigmoid/softmax and the NHWC input inside, exported by
     torch.onnx.export and run by onnxruntime-node (scripts/ort_bench.js: one
     intra-op thread, sequential, graph optimizations all) on the same
     preprocessed tensor;
  4. both outputs compared (within 1e-5), one table: images/s per second of
     wall-clock time and per second of CPU time (robust on a shared machine),
     the best of --repeat runs of each, the two engines alternating.
ONNX Runtime comes from --ort-dir (a folder with node_modules/onnxruntime-node,
installed by `npm install --ignore-scripts onnxruntime-node`, which --install
runs there when the package is missing); without node or the package its
columns are skipped with a message (with --test: exit 77).
Runs under Debian's Python (/usr/bin/python3 has python3-torch).
"""
import argparse
import json
import os
import platform
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SKIP = 77


def run(args, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    return p.stdout


def load_average():
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "unknown"


def cpu_model():
    try:
        for line in run(["lscpu"]).splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (RuntimeError, OSError):
        pass
    return platform.processor() or "unknown"


def load_twin(py):
    import importlib.util
    spec = importlib.util.spec_from_file_location(os.path.basename(py)[:-3], py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def make_weights(twin, path):
    import torch
    warnings.filterwarnings("ignore")
    model = twin.Net()
    twin.init_cnnc(model)
    g = torch.Generator().manual_seed(7)
    state = model.state_dict()
    with torch.no_grad():
        for name, t in state.items():
            if name.endswith("running_mean") or name.endswith(".bias") and "batchnorm" in name:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif name.endswith("running_var") or name.endswith(".weight") and "batchnorm" in name:
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
    twin.save_safetensors(path, state, {"model": twin.MODEL_NAME})


def export_onnx(twin, weights, path):
    import torch
    warnings.filterwarnings("ignore")

    class Deployed(torch.nn.Module):
        """The twin with NHWC input and the final activation, as deployed."""

        def __init__(self):
            super().__init__()
            self.net = twin.make_model(weights)

        def forward(self, x):
            z = self.net(x.permute(0, 3, 1, 2))
            if twin.FINAL_ACTIVATION == "sigmoid":
                p = torch.sigmoid(z)
                return torch.cat([1 - p, p], dim=1)
            return torch.softmax(z, dim=1)

    m = Deployed().eval()
    h, w, c = twin.INPUT_SHAPE
    with torch.no_grad():
        torch.onnx.export(m, torch.zeros(1, h, w, c), path, input_names=["x"], output_names=["probs"],
                          opset_version=13)


def ort_available(ort_dir):
    node = shutil.which("node")
    if not node:
        return None, "node is not installed"
    if not ort_dir or not os.path.isdir(os.path.join(ort_dir, "node_modules", "onnxruntime-node")):
        return None, "onnxruntime-node is not installed in %s (npm install --ignore-scripts onnxruntime-node)" % (
            ort_dir or "--ort-dir")
    return node, None


def compare_one(cnn, a, work, node):
    name = None
    for line in open(cnn):
        if line.strip().startswith("model "):
            name = line.split()[1]
            break
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    py = os.path.join(d, name + "_twin.py")
    run([a.cnnc, "--emit", "pytorch", cnn, "-o", py])
    twin = load_twin(py)
    weights = a.weights or os.path.join(d, "weights.safetensors")
    if not a.weights:
        make_weights(twin, weights)
    out = os.path.join(d, "export")
    run([a.cnnc, "export", cnn, "--weights", weights, "-o", out])
    obj = os.path.join(d, name + "_infer.o")
    run([a.cc, "-std=c99", "-O2", "-march=native", "-c", os.path.join(out, name + "_infer.c"), "-o", obj])
    size = run(["size", obj]).splitlines()[1].split()
    text, data, bss = int(size[0]), int(size[1]), int(size[2])
    exe = os.path.join(d, "export_bench")
    run([a.cc, "-std=c99", "-O2", "-march=native", "-I", out, "-DMODEL=" + name,
         '-DMODEL_HEADER="%s_infer.h"' % name, os.path.join(HERE, "export_bench.c"), obj, "-o", exe])
    h, w, c = twin.INPUT_SHAPE
    rng = random.Random(3)
    tensor = os.path.join(d, "x.f32")
    with open(tensor, "wb") as f:  # a preprocessed image: rescale 1/255 of random bytes
        f.write(struct.pack("<%df" % (h * w * c), *[rng.randint(0, 255) / 255.0 for _ in range(h * w * c)]))
    onnx = None
    env = None
    if node:
        onnx = os.path.join(d, name + ".onnx")
        export_onnx(twin, weights, onnx)
        env = dict(os.environ, NODE_PATH=os.path.join(a.ort_dir, "node_modules"))
    # the two alternate, --repeat times each, so that a busy spell of a shared
    # machine hits both; the best run of each is reported (the least disturbed)
    runs_c, runs_o = [], []
    for _ in range(a.repeat):
        runs_c.append(json.loads(run([exe, tensor, str(a.seconds)])))
        if node:
            runs_o.append(json.loads(run([node, os.path.join(HERE, "ort_bench.js"), onnx, tensor, str(h), str(w),
                                          str(c), str(a.seconds)], env=env)))
    cnnc = max(runs_c, key=lambda r: r["images_per_s"])
    row = {"model": name, "cnnc_images_per_s": cnnc["images_per_s"],
           "cnnc_images_per_cpu_s": max(r["images_per_cpu_s"] for r in runs_c),
           "cnnc_runs": [r["images_per_s"] for r in runs_c],
           "predict_640x480_ms": min(r["predict_640x480_ms"] for r in runs_c),
           "object_text_bytes": text, "object_data_bytes": data, "object_bss_bytes": bss,
           "cnnc_probabilities": cnnc["probabilities"]}
    if node:
        ort = max(runs_o, key=lambda r: r["images_per_s"])
        diff = max(abs(x - y) for x, y in zip(cnnc["probabilities"], ort["probabilities"]))
        row.update({"ort_images_per_s": ort["images_per_s"],
                    "ort_images_per_cpu_s": max(r["images_per_cpu_s"] for r in runs_o),
                    "ort_runs": [r["images_per_s"] for r in runs_o], "ort_version": ort["version"],
                    "ort_probabilities": ort["probabilities"], "max_abs_diff": diff,
                    "ratio": cnnc["images_per_s"] / ort["images_per_s"],
                    "cpu_ratio": row["cnnc_images_per_cpu_s"] / max(r["images_per_cpu_s"] for r in runs_o)})
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*")
    ap.add_argument("--cnnc", default=os.path.join(ROOT, "build", "compiler", "cnnc"))
    ap.add_argument("--weights")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3, help="alternating runs of each engine; the best is reported")
    ap.add_argument("--ort-dir", default=os.path.join(ROOT, "build", "ort"))
    ap.add_argument("--install", action="store_true", help="npm install onnxruntime-node into --ort-dir if missing")
    ap.add_argument("--work")
    ap.add_argument("--cc", default="gcc")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--test", action="store_true", help="exit 77 without ONNX Runtime; 1 when outputs differ")
    a = ap.parse_args()
    models = a.models or [os.path.join(ROOT, "models", m + ".cnn") for m in ("fruit", "deep", "fashion")]
    if a.weights and len(models) != 1:
        sys.exit("compare_onnx.py: --weights goes with one model")
    if not os.path.exists(a.cnnc):
        sys.exit("compare_onnx.py: no cnnc at %s (build first, or --cnnc)" % a.cnnc)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("compare_onnx.py: skipped: no torch in %s (Debian: python3-torch)" % sys.executable)
        sys.exit(SKIP if a.test else 1)
    node, why = ort_available(a.ort_dir)
    if not node and a.install and shutil.which("node") and shutil.which("npm"):
        os.makedirs(a.ort_dir, exist_ok=True)
        print("compare_onnx.py: npm install --ignore-scripts onnxruntime-node in %s" % a.ort_dir, file=sys.stderr)
        subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "onnxruntime-node"],
                       cwd=a.ort_dir, stdout=sys.stderr)
        node, why = ort_available(a.ort_dir)
    if not node:
        print("compare_onnx.py: ONNX Runtime skipped: %s" % why, file=sys.stderr)
        if a.test:
            sys.exit(SKIP)
    work = a.work or tempfile.mkdtemp(prefix="compare_onnx_")
    rows = [compare_one(os.path.abspath(m), a, work, node) for m in models]
    bad = [r for r in rows if r.get("max_abs_diff", 0) > 1e-5]
    if a.json:
        print(json.dumps({"cpu": cpu_model(), "threads": 1, "seconds": a.seconds, "repeat": a.repeat,
                          "load_average": load_average(), "rows": rows}, indent=1))
    else:
        print("CPU: %s; one thread, one image per call; best of %d alternating runs of %g s; load average %s"
              % (cpu_model(), a.repeat, a.seconds, load_average()))
        print("%-8s %11s %11s %7s %13s %13s %7s %11s %11s %11s" % (
            "model", "cnnc img/s", "ORT img/s", "ratio", "cnnc img/cpu", "ORT img/cpu", "ratio", "max |diff|",
            "object KiB", "predict ms"))
        for r in rows:
            has = "ort_images_per_s" in r
            print("%-8s %11.1f %11s %7s %13.1f %13s %7s %11s %11.1f %11.3f" % (
                r["model"], r["cnnc_images_per_s"], "%.1f" % r["ort_images_per_s"] if has else "-",
                "%.2fx" % r["ratio"] if has else "-", r["cnnc_images_per_cpu_s"],
                "%.1f" % r["ort_images_per_cpu_s"] if has else "-", "%.2fx" % r["cpu_ratio"] if has else "-",
                "%.2e" % r["max_abs_diff"] if has else "-",
                (r["object_text_bytes"] + r["object_data_bytes"]) / 1024.0, r["predict_640x480_ms"]))
        if rows and "ort_version" in rows[0]:
            print("ONNX Runtime %s (onnxruntime-node); predict ms: one NAME_predict on a 640x480 RGB image" %
                  rows[0]["ort_version"])
    if bad:
        print("compare_onnx.py: outputs differ by more than 1e-5: %s" % ", ".join(r["model"] for r in bad),
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
