#!/usr/bin/python3
"""The whole training job, measured: a trainer's `train` on a photo folder
(decoding with a cold page cache where allowed, every epoch, validation,
checkpoints), then `NAME bench` on the weights the run ended with and on
random ones, so that each epoch's rate can be set against the step's.

usage: scripts/bench_fulljob.py DATA_DIR [--trainer build/models/fruit] [--epochs 10] [--threads 2]
                                [--out DIR] [--baseline TRAINER] [--warm] [--bench-seconds 3] [--json-out FILE]

Prints, per trainer (with --baseline, the baseline runs first, then the
trainer, on the same folder in the same call: compare their ratios, not
absolute figures, on a shared machine):

  trainer T: DATA, E epochs, N threads; page cache cold (drop_caches) | warm
  load average before: a, b, c
  decode: IMAGES images in S s (R images/s)
  epoch  img/s  vs bench  train img/s  vs bench  batches s  val s      (one line per epoch)
  bench training step: random weights X img/s, trained weights Y img/s
  whole job: W s wall, peak RSS M MB, last val_accuracy A
  load average after: a, b, c

An epoch's img/s is the trainer's progress-line figure: training images
over the training and validation time (Keras's convention). train img/s is
the training phase alone (the steps and the batches made between them:
images / train_seconds of the run folder's timing.csv), the figure to set
against the bench's training step; batches s is the part of that phase
spent making batches, val s the validation pass. A trainer without
timing.csv (an older baseline) shows "-" there. "vs bench" is against the
bench on the run's final weights.

The bench figures come from --trainer's `bench` (on each run's final
weights), since a baseline may not have `bench --weights`.

Dropping the page cache (`echo 3 > /proc/sys/vm/drop_caches`) needs root;
without it (or with --warm) the decode figure is for a warm cache and the
line says so."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def load():
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r"^Model name:\s*(.+)$", out, re.M)
        return m.group(1).strip() if m else "unknown"
    except OSError:
        return "unknown"


def drop_caches():
    """True when the page cache was dropped."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def peak_rss_run(cmd, log):
    """Runs cmd with its output to log; returns (exit status, wall seconds, peak RSS in MB)."""
    t0 = time.monotonic()
    with open(log, "w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    return os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss / 1024.0


def bench(trainer, threads, seconds, weights=None):
    cmd = [trainer, "bench", "--threads", str(threads), "--seconds", str(seconds), "--json"]
    if weights:
        cmd += ["--weights", weights]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_fulljob: {' '.join(cmd)} failed:\n{p.stderr.strip()}")
    for line in reversed(p.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)["train_images_per_s"]
    sys.exit(f"bench_fulljob: no JSON from {' '.join(cmd)}")


def read_timing(path):
    """timing.csv's rows as dicts of floats (see docs/trainer.md), or None when the trainer wrote none."""
    if not os.path.exists(path):
        return None
    rows = open(path).read().strip().splitlines()
    cols = rows[0].split(",")
    return [dict(zip(cols, (float(v) for v in r.split(",")))) for r in rows[1:]]


def one(trainer, a, out):
    res = {"trainer": trainer, "load_before": load()}
    res["cold_cache"] = False if a.warm else drop_caches()
    if os.path.exists(out):
        shutil.rmtree(out)
    log = out + ".log"
    cmd = [trainer, "train", "--data", a.data, "--epochs", str(a.epochs), "--threads", str(a.threads),
           "--out", out, "--progress", "plain"]
    rc, wall, rss = peak_rss_run(cmd, log)
    text = open(log, errors="replace").read()
    if rc != 0:
        sys.exit(f"bench_fulljob: {' '.join(cmd)} exited with {rc}; its output is in {log}:\n{text[-2000:]}")
    res.update(wall_s=wall, peak_rss_mb=rss, log=log)
    m = re.search(r": (\d+) images read in ([0-9.]+) s \((\d+) images/s\)", text)
    res["decode"] = {"images": int(m.group(1)), "seconds": float(m.group(2)), "images_per_s": int(m.group(3))} if m else None
    # the epoch's closing progress line: "N/N - TIME - X/step - R img/s - ..."
    res["epoch_images_per_s"] = [float(r[1]) for r in re.findall(r"^\s*(\d+)/\1 - .*? - ([0-9.]+) img/s", text, re.M)]
    hist = open(os.path.join(out, "history.csv")).read().strip().splitlines()
    cols = hist[0].split(",")
    last = dict(zip(cols, hist[-1].split(",")))
    res["last_val_accuracy"] = float(last["val_accuracy"]) if "val_accuracy" in last else None
    res["epochs_timing"] = read_timing(os.path.join(out, "timing.csv"))
    weights = os.path.join(out, "model.safetensors")
    # the bench of --trainer (a baseline may predate `bench --weights`)
    res["bench_random"] = bench(a.trainer, a.threads, a.bench_seconds)
    res["bench_trained"] = bench(a.trainer, a.threads, a.bench_seconds, weights)
    res["load_after"] = load()
    return res


def show(r, a):
    cache = "cold (drop_caches)" if r["cold_cache"] else "warm (drop_caches not allowed, or --warm)"
    print(f"trainer {r['trainer']}: {a.data}, {a.epochs} epochs, {a.threads} threads; page cache {cache}")
    print("load average before: " + ", ".join(f"{v:.2f}" for v in r["load_before"]))
    d = r["decode"]
    print(f"decode: {d['images']} images in {d['seconds']:.1f} s ({d['images_per_s']} images/s)" if d
          else "decode: no decode line in the log")
    bt = r["bench_trained"]
    timing = r.get("epochs_timing") or []
    print("epoch  img/s  vs bench  train img/s  vs bench  batches s  val s")
    for i, v in enumerate(r["epoch_images_per_s"], 1):
        line = f"{i:5d}  {v:5.0f}  {v / bt:8.2f}"
        t = timing[i - 1] if i <= len(timing) else None
        if t and t["train_seconds"] > 0:
            tr = t["images"] / t["train_seconds"]
            line += f"  {tr:11.0f}  {tr / bt:8.2f}  {t['batch_seconds']:9.2f}  {t['val_seconds']:5.2f}"
        else:
            line += f"  {'-':>11}  {'-':>8}  {'-':>9}  {'-':>5}"
        print(line)
    print(f"bench training step: random weights {r['bench_random']:.0f} img/s, "
          f"trained weights {r['bench_trained']:.0f} img/s")
    va = r["last_val_accuracy"]
    print(f"whole job: {r['wall_s']:.1f} s wall, peak RSS {r['peak_rss_mb']:.0f} MB, last val_accuracy "
          + (f"{va:.4f}" if va is not None else "-"))
    print("load average after: " + ", ".join(f"{v:.2f}" for v in r["load_after"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data")
    ap.add_argument("--trainer", default="build/models/fruit")
    ap.add_argument("--baseline", help="another trainer of the same model, run first in the same call")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="run folders go under it (default: a temporary folder, removed)")
    ap.add_argument("--warm", action="store_true", help="do not drop the page cache before each run")
    ap.add_argument("--bench-seconds", type=float, default=3.0)
    ap.add_argument("--json-out", metavar="FILE")
    a = ap.parse_args()
    if not os.path.isdir(a.data):
        ap.error(f"{a.data}: not a folder")
    for t in [a.trainer] + ([a.baseline] if a.baseline else []):
        if not os.access(t, os.X_OK):
            ap.error(f"{t}: not an executable trainer (build it: cmake --build build --target fruit)")
    base = a.out or tempfile.mkdtemp(prefix="cnnc-fulljob-")
    os.makedirs(base, exist_ok=True)
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs")
    runs = []
    try:
        for i, t in enumerate(([a.baseline] if a.baseline else []) + [a.trainer]):
            r = one(t, a, os.path.join(base, f"run{i}"))
            show(r, a)
            runs.append(r)
        if len(runs) == 2:
            b, n = runs
            print(f"trainer / baseline: whole job {b['wall_s'] / n['wall_s']:.2f}x faster; mean epoch rate "
                  f"{sum(n['epoch_images_per_s']) / max(1, len(n['epoch_images_per_s'])) / (sum(b['epoch_images_per_s']) / max(1, len(b['epoch_images_per_s']))):.2f}x")
    finally:
        if not a.out:
            shutil.rmtree(base, ignore_errors=True)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"machine": cpu_model(), "data": a.data, "epochs": a.epochs, "threads": a.threads,
                       "runs": runs}, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
