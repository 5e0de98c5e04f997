#!/usr/bin/python3
"""compare_cli.py: `cnnc compare` as a user runs it (the build tree's cnnc,
or an installed one: tests/install/install_test.sh).

usage: compare_cli.py [--installed] CNNC NET.cnn [E2E_NET.cnn MAKE_IMAGE_FOLDER]

Checks, with very short timings (no speed is asserted):
  - `cnnc compare --help` prints the usage under that name, and names --svg
    and --data;
  - `cnnc compare NET --json --svg F`: one JSON object on stdout with the
    cnnc and reference rows (positive images/s) and either a PyTorch row
    or, without torch, the note saying how to install it; F is an SVG with
    a bar per engine and phase;
  - its one-image section (`export_onnx`): cnnc export's images/s, and
    ONNX Runtime's within 1e-5 of it or the note saying how to get it
    (npm install ... onnxruntime-node); its panel in the SVG;
  - the same with --python naming no interpreter: PyTorch is reported
    missing, the way to install it is printed, and the C engines are still
    timed; the one-image section says torch is missing;
  - --onnx-only: that section alone;
  - a missing .cnn file: exit status 2 and a message naming it;
  - with E2E_NET (a two-class network) and MAKE_IMAGE_FOLDER
    (tests/install/make_image_folder.c): the end-to-end option, one epoch
    on a generated folder with --data, --json and --svg: the cnnc trainer's
    row, and PyTorch's or the note saying how to install it.
--installed (an installed cnnc: what differs from the build tree's is where
the scripts and the reference engine's sources come from) leaves out the
run without PyTorch and the missing file, which test the same script."""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

QUICK = ["--threads", "2", "--seconds", "0.02", "--search", "quick"]


def fail(msg, out=""):
    print(f"compare_cli: FAIL: {msg}\n{out}")
    sys.exit(1)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def check_run(cnnc, net, tmp, extra, want_torch):
    svg = os.path.join(tmp, "chart.svg")
    rc, out, err = run([cnnc, "compare", net, "--json", "--svg", svg] + QUICK + extra)
    if rc != 0:
        fail(f"cnnc compare exited with {rc}", out + err)
    try:
        s = json.loads(out)
    except json.JSONDecodeError as e:
        fail(f"--json: stdout is not one JSON object ({e})", out)
    keys = [e["key"] for e in s["engines"]]
    if keys[:2] != ["cnnc", "reference"]:
        fail(f"engines {keys}", out)
    for e in s["engines"]:
        for k in ("train_images_per_s", "infer_images_per_s"):
            if not (isinstance(e.get(k), (int, float)) and e[k] > 0):
                fail(f"{e['key']}.{k} = {e.get(k)!r}", out)
    if want_torch is None:
        want_torch = "torch" in keys
    if want_torch:
        if keys != ["cnnc", "reference", "torch"] or "pytorch_missing" in s:
            fail("expected a PyTorch row", out)
    else:
        if "torch" in keys or "python3-torch" not in s.get("pytorch_missing", ""):
            fail("without torch: no PyTorch row, and the note saying how to install it", out)
        if "python3-torch" not in err:
            fail("without torch: stderr should say how to install it", err)
    one = check_one_image(s.get("export_onnx"), want_torch, out)
    root = ET.parse(svg).getroot()
    if not root.tag.endswith("svg"):
        fail("--svg: not an SVG document")
    bars = [r for r in root.iter() if r.tag.endswith("rect") and r.find("{http://www.w3.org/2000/svg}title") is not None]
    if len(bars) != 2 * len(keys) + one:
        fail(f"--svg: {len(bars)} bars, expected {2 * len(keys) + one} (an engine per phase, and the one-image "
             "panel's)")
    text = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    for label in ("cnnc (generated C)", "reference engine (generic C)"):
        if label not in text:
            fail(f"--svg: no label {label!r}")
    return want_torch


def check_one_image(e, want_torch, out):
    """The one-image section (cnnc export vs ONNX Runtime). Returns its bars in the SVG."""
    if not isinstance(e, dict):
        fail("no export_onnx section in the JSON", out)
    if not want_torch:
        if "python3-torch" not in e.get("missing", ""):
            fail("export_onnx without torch: the note saying how to install it", out)
        return 0
    if not e.get("cnnc", {}).get("images_per_s", 0) > 0 or not e["cnnc"].get("predict_640x480_ms", 0) > 0:
        fail("export_onnx: cnnc export's images/s and NAME_predict's time", out)
    if "ort" in e:
        if not (e["ort"]["images_per_s"] > 0 and e["max_abs_diff"] <= 1e-5 and e["ratio"] > 0):
            fail("export_onnx: ONNX Runtime's figures, the ratio, outputs within 1e-5", out)
        return 2
    if "onnxruntime-node" not in e.get("ort_missing", ""):
        fail("export_onnx without ONNX Runtime: the note saying how to get it", out)
    return 1


def check_e2e(cnnc, net, make_folder, tmp):
    data = os.path.join(tmp, "images")
    if subprocess.run([make_folder, data, "8", "16"]).returncode != 0:
        fail("make_image_folder")
    svg = os.path.join(tmp, "e2e.svg")
    rc, out, err = run([cnnc, "compare", net, "--data", data, "--epochs", "1", "--threads", "2", "--workers", "0",
                        "--no-exact", "--json", "--svg", svg])
    if rc != 0:
        fail(f"cnnc compare --data exited with {rc}", out + err)
    try:
        s = json.loads(out)
    except json.JSONDecodeError as e:
        fail(f"--data --json: stdout is not one JSON object ({e})", out)
    rows = {r["engine"]: r for r in s["engines"]}
    r = rows.get("cnnc trainer")
    if not r or not r["seconds"] > 0 or s["train_images"] + s["val_images"] != 16:
        fail("--data: the cnnc trainer's row or the image counts", out)
    if ("PyTorch + torchvision" in rows) == bool(s.get("pytorch_missing")):
        fail("--data: a PyTorch row, or the note saying how to install it", out)
    ET.parse(svg)


def main():
    argv = sys.argv[1:]
    installed = argv[:1] == ["--installed"]
    argv = argv[1:] if installed else argv
    if len(argv) not in (2, 4):
        print(__doc__)
        return 2
    cnnc, net = argv[:2]
    rc, out, err = run([cnnc, "compare", "--help"])
    if rc != 0 or "usage: cnnc compare" not in out or "--svg" not in out or "--data" not in out:
        fail("cnnc compare --help", out + err)
    with tempfile.TemporaryDirectory(prefix="compare-cli-") as tmp:
        had_torch = check_run(cnnc, net, tmp, [], None)
        rc, out, err = run([cnnc, "compare", net, "--onnx-only", "--json", "--seconds", "0.02"])
        if rc != 0:
            fail(f"cnnc compare --onnx-only exited with {rc}", out + err)
        s = json.loads(out)
        if "engines" in s:
            fail("--onnx-only: the other engines were timed", out)
        check_one_image(s.get("export_onnx"), had_torch, out)
        if not installed:
            check_run(cnnc, net, tmp, ["--python", os.path.join(tmp, "no-python")], False)
            rc, out, err = run([cnnc, "compare", os.path.join(tmp, "missing.cnn")])
            if rc != 2 or "missing.cnn: no such file" not in err:
                fail(f"a missing file: exit status {rc}", out + err)
        if len(argv) == 4:
            check_e2e(cnnc, argv[2], argv[3], tmp)
    print(f"compare_cli: ok ({'with' if had_torch else 'without'} PyTorch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
