"""compare_onnx.py: the one-image section of `cnnc compare` (compare.py):
the exported inference file (`cnnc export`) against ONNX Runtime on one
thread, one image per call, on the same weights and the same tensor.

What it does for the model:
  1. weights: the trainer's initialisation through the PyTorch twin, with
     random batchnorm statistics (so the folds do real work), saved as
     safetensors; and the twin with those weights, the final sigmoid/softmax
     and the NHWC input inside, exported by torch.onnx.export (both in the
     Python that has torch: compare.py's --python runs this file as a
     worker, `compare_onnx.py prepare TWIN.py WEIGHTS ONNX`);
  2. `cnnc export` and the exported C compiled with CC -O2 -march=native
     (as `cnnc build` compiles) into export_bench.c (next to this file):
     NAME_predict_tensor's images/s, one NAME_predict call on a 640x480 RGB
     image (resize included), the object's size;
  3. ONNX Runtime from npm (onnxruntime-node) running ort_bench.js (next to
     this file): one intra-op thread, sequential, graph optimizations all,
     session.run on the same preprocessed tensor;
  4. per run, the two engines one after the other (A/B, so a busy spell of a
     shared machine hits both), the ratio taken within the run; the section
     reports medians over runs and the largest difference of the outputs
     (they must agree within 1e-5).
Without torch, node or the package, the section says what is missing and
how to get it; compare.py goes on with its other rows.

compare_web.py uses make_weights, export_onnx, load_twin, run, cpu_model
and load_average from here too.
"""
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-5
ORT_HOWTO = ("npm install --ignore-scripts onnxruntime-node (Node.js from apt-get install nodejs npm), in the "
             "current folder or in a folder named with --ort-dir")


def run(args, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(args), p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    return p.stdout


def load_average():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
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


# ---- the torch side (run in the Python that has torch) -------------------------

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


def prepare_main(argv):
    """`compare_onnx.py prepare TWIN.py WEIGHTS.safetensors MODEL.onnx`."""
    twin_py, weights, onnx = argv
    twin = load_twin(twin_py)
    make_weights(twin, weights)
    export_onnx(twin, weights, onnx)
    print(json.dumps({"input_shape": list(twin.INPUT_SHAPE)}))
    return 0


# ---- finding ONNX Runtime ----------------------------------------------------------

def find_ort(ort_dir):
    """(node, NODE_PATH, None) or (None, None, why)."""
    node = shutil.which("node")
    if not node:
        return None, None, "node is not installed"
    if ort_dir:
        mods = os.path.join(os.path.abspath(ort_dir), "node_modules")
        if os.path.isfile(os.path.join(mods, "onnxruntime-node", "package.json")):
            return node, mods, None
        return None, None, f"onnxruntime-node is not installed in {ort_dir}"
    # node's own search from the current folder (./node_modules and up, NODE_PATH, ~/.node_modules)
    p = subprocess.run([node, "-e", "console.log(require.resolve('onnxruntime-node/package.json'))"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if p.returncode == 0 and p.stdout.strip():
        return node, os.path.dirname(os.path.dirname(p.stdout.strip())), None
    return None, None, "onnxruntime-node is not found from the current folder"


def install_ort(ort_dir):
    """npm install --ignore-scripts onnxruntime-node in ort_dir (--ort-install)."""
    if not shutil.which("npm"):
        return "npm is not installed (apt-get install npm)"
    os.makedirs(ort_dir, exist_ok=True)
    print(f"compare: npm install --ignore-scripts onnxruntime-node in {ort_dir}", file=sys.stderr)
    p = subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "onnxruntime-node"],
                       cwd=ort_dir, stdout=sys.stderr)
    return None if p.returncode == 0 else f"npm install failed (exit status {p.returncode})"


# ---- the section --------------------------------------------------------------------

def prepare(cnn, name, twin_py, cnnc, python, work, ort_dir, ort_install, has_torch):
    """Builds what the section times. Returns a context dict; ctx["missing"]
    says why nothing is timed, ctx["ort_missing"] why ONNX Runtime is not."""
    ctx = {"name": name}
    if not has_torch:
        ctx["missing"] = (f"no torch for {python} (the weights and the ONNX file come from the PyTorch twin; "
                          "Debian: apt-get install python3-torch)")
        return ctx
    d = os.path.join(work, "export_onnx")
    os.makedirs(d, exist_ok=True)
    weights, onnx = os.path.join(d, "weights.safetensors"), os.path.join(d, name + ".onnx")
    info = json.loads(run([python, os.path.abspath(__file__), "prepare", twin_py, weights, onnx]).strip()
                      .splitlines()[-1])
    out = os.path.join(d, "export")
    run([cnnc, "export", cnn, "--weights", weights, "-o", out])
    cc = (os.environ.get("CC") or "cc").split()
    obj = os.path.join(d, name + "_infer.o")
    run(cc + ["-std=c99", "-O2", "-march=native", "-c", os.path.join(out, name + "_infer.c"), "-o", obj])
    size = run(["size", obj]).splitlines()[1].split()
    ctx.update({"object_text_bytes": int(size[0]), "object_data_bytes": int(size[1]),
                "object_bss_bytes": int(size[2])})
    ctx["exe"] = os.path.join(d, "export_bench")
    run(cc + ["-std=c99", "-O2", "-march=native", "-I", out, "-DMODEL=" + name,
              '-DMODEL_HEADER="%s_infer.h"' % name, os.path.join(HERE, "export_bench.c"), obj, "-o", ctx["exe"]])
    h, w, c = info["input_shape"]
    ctx["shape"] = (h, w, c)
    ctx["tensor"] = os.path.join(d, "x.f32")
    with open(ctx["tensor"], "wb") as f:  # a preprocessed image: rescale 1/255 of fixed pseudo-random bytes
        s = 12345
        vals = []
        for _ in range(h * w * c):
            s = (s * 1103515245 + 12345) & 0xFFFFFFFF
            vals.append(((s >> 16) & 255) / 255.0)
        f.write(struct.pack("<%df" % len(vals), *vals))
    ctx["onnx"] = onnx
    node, mods, why = find_ort(ort_dir)
    if not node and ort_install and ort_dir:
        why = install_ort(ort_dir) or why
        node, mods, why2 = find_ort(ort_dir)
        why = why2 if not node else None
    if node:
        ctx["node"], ctx["node_path"] = node, mods
    else:
        ctx["ort_missing"] = f"{why}; to time it: {ORT_HOWTO}"
    return ctx


def time_once(ctx, seconds):
    """One A/B run: the exported C, then ONNX Runtime. A dict of figures."""
    r = {"load_before": load_average()}
    r["cnnc"] = json.loads(run([ctx["exe"], ctx["tensor"], str(seconds)]).strip().splitlines()[-1])
    if "node" in ctx:
        h, w, c = ctx["shape"]
        env = dict(os.environ, NODE_PATH=ctx["node_path"])
        r["ort"] = json.loads(run([ctx["node"], os.path.join(HERE, "ort_bench.js"), ctx["onnx"], ctx["tensor"],
                                   str(h), str(w), str(c), str(seconds)], env=env).strip().splitlines()[-1])
    return r


def summarize(ctx, runs):
    """Medians over the runs; ratios within each run, then their median."""
    med = statistics.median
    s = {"model": ctx["name"], "threads": 1, "runs": runs}
    if "missing" in ctx:
        s["missing"] = ctx["missing"]
        return s
    c = [r["cnnc"] for r in runs]
    s["cnnc"] = {"images_per_s": med([x["images_per_s"] for x in c]),
                 "images_per_cpu_s": med([x["images_per_cpu_s"] for x in c]),
                 "predict_640x480_ms": med([x["predict_640x480_ms"] for x in c]),
                 "object_text_bytes": ctx["object_text_bytes"], "object_data_bytes": ctx["object_data_bytes"],
                 "object_bss_bytes": ctx["object_bss_bytes"], "probabilities": c[-1]["probabilities"]}
    if "ort_missing" in ctx:
        s["ort_missing"] = ctx["ort_missing"]
        return s
    o = [r["ort"] for r in runs]
    s["ort"] = {"images_per_s": med([x["images_per_s"] for x in o]),
                "images_per_cpu_s": med([x["images_per_cpu_s"] for x in o]),
                "version": o[-1]["version"], "probabilities": o[-1]["probabilities"]}
    s["ratio"] = med([a["images_per_s"] / b["images_per_s"] for a, b in zip(c, o)])
    s["cpu_ratio"] = med([a["images_per_cpu_s"] / b["images_per_cpu_s"] for a, b in zip(c, o)])
    s["ratios"] = [a["images_per_s"] / b["images_per_s"] for a, b in zip(c, o)]
    s["max_abs_diff"] = max(abs(x - y) for a, b in zip(c, o)
                            for x, y in zip(a["probabilities"], b["probabilities"]))
    return s


def print_table(hdr, rows):
    """Prints a text table: the first column left-aligned, the others right-aligned (also compare.py's)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
    line = lambda cells: "  ".join(x.ljust(widths[0]) if i == 0 else x.rjust(widths[i]) for i, x in enumerate(cells))
    print(line(hdr))
    for r in rows:
        print(line(r))


def print_section(s, seconds):
    print()
    print(f"One image per call, one thread: {s['model']}_predict_tensor (cnnc export) vs ONNX Runtime "
          "session.run, same weights and tensor")
    if "missing" in s:
        print(f"not timed: {s['missing']}")
        return
    c = s["cnnc"]
    runs = len(s["runs"])
    rows = [("cnnc export (freestanding C)", f"{c['images_per_s']:.1f}", f"{c['images_per_cpu_s']:.1f}",
             f"{s['ratio']:.2f}x" if "ratio" in s else "-", f"{s['cpu_ratio']:.2f}x" if "cpu_ratio" in s else "-")]
    if "ort" in s:
        o = s["ort"]
        rows.append((f"ONNX Runtime {o['version']} (node)", f"{o['images_per_s']:.1f}", f"{o['images_per_cpu_s']:.1f}",
                     "1.00x", "1.00x"))
    else:
        rows.append(("ONNX Runtime", "-", "-", "-", "-"))
    hdr = ("engine", "img/s", "img/CPU-s", "vs ORT", "CPU vs ORT")
    print_table(hdr, rows)
    print(f"medians of {runs} A/B run(s) of {seconds} s each"
          + (" (ratios within each run: " + ", ".join(f"{x:.2f}x" for x in s["ratios"]) + ")" if "ratios" in s
             else ""))
    if "ort" in s:
        print(f"outputs agree within {s['max_abs_diff']:.1e} (must be within {TOLERANCE:g})")
    else:
        print(f"ONNX Runtime: not timed: {s['ort_missing']}")
    print(f"exported object: {(c['object_text_bytes'] + c['object_data_bytes']) / 1024:.0f} KiB (text + data), "
          f"{c['object_bss_bytes'] / 1024:.0f} KiB static work area; one {s['model']}_predict on a 640x480 RGB "
          f"image (resize included): {c['predict_640x480_ms']:.3f} ms")


def svg_panel(s):
    """compare_svg's panel of the section, or None when nothing was timed."""
    if "missing" in s:
        return None
    bars = [{"label": "cnnc export (C)", "key": "cnnc", "value": s["cnnc"]["images_per_s"],
             "note": f"{s['ratio']:.2f}x ONNX Runtime" if "ratio" in s else "1 thr"}]
    if "ort" in s:
        bars.append({"label": f"ONNX Runtime {s['ort']['version']}", "key": "ort", "value": s["ort"]["images_per_s"],
                     "note": "1 thr, graph optimizations all"})
    else:
        bars.append({"label": "ONNX Runtime", "key": "ort", "value": None,
                     "note": "not timed: npm install --ignore-scripts onnxruntime-node"})
    return {"title": "One image per call, one thread (exported inference)", "unit": "images/s (higher is faster)",
            "bars": bars}


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"] and len(sys.argv) == 5:
        sys.exit(prepare_main(sys.argv[2:]))
    sys.exit("usage: compare_onnx.py prepare TWIN.py WEIGHTS.safetensors MODEL.onnx (a worker of compare.py)")
