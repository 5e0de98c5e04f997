#!/usr/bin/python3
"""compare_smoke.py: runs scripts/compare.py on a tiny network and checks
that it prints one table with the three engines and well-formed JSON.

usage: compare_smoke.py COMPARE.py NET.cnn BUILD_DIR [compare flags...]

One run prints the table and writes the same figures with --json-out.

No timing is asserted (the machine is shared): figures must only be
positive numbers, ratios consistent with them, and the PyTorch
configurations named. Exit 77 (skip) when /usr/bin/python3 has no torch."""
import json
import os
import subprocess
import sys
import tempfile


def fail(msg, out=""):
    print(f"compare_smoke: FAIL: {msg}\n{out}")
    sys.exit(1)


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    compare, net, build = sys.argv[1:4]
    extra = sys.argv[4:]
    try:
        import torch  # noqa: F401
    except ImportError:
        print("compare_smoke: skipped: no torch (apt-get install python3-torch)")
        return 77
    with tempfile.TemporaryDirectory(prefix="compare-smoke-") as tmp:
        return check(compare, net, build, extra, os.path.join(tmp, "result.json"))


def check(compare, net, build, extra, json_path):
    cmd = [sys.executable, compare, net, "--build-dir", build, "--json-out", json_path] + extra

    # The table.
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = p.stdout
    print(out)
    if p.returncode != 0:
        fail(f"compare exited with {p.returncode}", out)
    lines = out.splitlines()
    # the training/inference table (the one-image table against ONNX Runtime
    # follows it, with its own header, checked by cnnc_compare)
    header = [i for i, l in enumerate(lines) if l.startswith("engine ") and "train img/s" in l]
    if len(header) != 1:
        fail("expected exactly one training/inference table header", out)
    rows = lines[header[0] + 1:header[0] + 4]
    for i, name in enumerate(("cnnc (generated C)", "reference engine (generic C)", "PyTorch best")):
        if not rows[i].startswith(name):
            fail(f"row {i + 1} should be {name!r}", out)
        cells = rows[i][len(name):].split()
        if len(cells) != 9:
            fail(f"row {name!r} has {len(cells)} figures, expected 9", out)
        if float(cells[1]) <= 0 or float(cells[2]) <= 0:
            fail(f"row {name!r}: images/s must be positive", out)
    for needle in ("FP32 peak", "PyTorch training config:", "PyTorch inference config:", "cnnc build"):
        if needle not in out:
            fail(f"missing line {needle!r}", out)
    # The PyTorch row is the baseline of its own ratios.
    if not rows[2].split()[-2:] == ["1.00x", "1.00x"]:
        fail("PyTorch's ratios to itself should be 1.00x", out)

    # The JSON form of the same run.
    try:
        with open(json_path) as f:
            text = f.read()
        s = json.loads(text)
    except (OSError, json.JSONDecodeError) as e:
        fail(f"--json-out file unreadable: {e}")
    keys = [e["key"] for e in s["engines"]]
    if keys != ["cnnc", "reference", "torch"]:
        fail(f"engines {keys}", text)
    for e in s["engines"]:
        for k in ("train_images_per_s", "infer_images_per_s", "train_gflops", "train_vs_pytorch"):
            if not (isinstance(e.get(k), (int, float)) and e[k] > 0):
                fail(f"{e['key']}.{k} = {e.get(k)!r}", text)
        # Ratios are computed from the same run's figures.
        want = e["train_images_per_s"] / s["engines"][2]["train_images_per_s"]
        if len(s["runs"]) == 1 and abs(e["train_vs_pytorch"] - want) > 1e-6 * want:
            fail(f"{e['key']}: train ratio {e['train_vs_pytorch']} != {want}", text)
    # The table shows the JSON's figures.
    for i, e in enumerate(s["engines"]):
        cells = rows[i].split()
        if format(e["train_images_per_s"], ".1f") not in cells or format(e["infer_images_per_s"], ".1f") not in cells:
            fail(f"table row {i + 1} does not show the JSON figures of {e['key']}", out + text)
    if not (s["peak_gflops"] > 0 and s["pytorch_train_config"] and s["pytorch_infer_config"]):
        fail("peak or PyTorch configurations missing", text)
    print("compare_smoke: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
