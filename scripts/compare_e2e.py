#!/usr/bin/python3
"""compare_e2e.py: a whole training run on a folder of JPEGs, decoding
included: cnnc's trainer vs PyTorch + torchvision (ImageFolder, DataLoader).

usage: cnnc compare FILE.cnn --data DATA_DIR [--epochs 10] [--threads N]
                    [--repeat K] [--workers 0,1,2] [--prefetch 2,4]
                    [--json] [--json-out FILE] [--svg FILE]
       scripts/compare_e2e.sh FILE.cnn DATA_DIR [the same flags]

Both sides train the network of FILE.cnn for the same number of epochs on
the same images: DATA_DIR has one subfolder per class; a stratified 20%
(the .cnn's validation_split) is held out and evaluated after every epoch;
batch, optimizer and learning rate are the .cnn's.

  cnnc:    `NAME train --data DATA_DIR --epochs E --threads N` as a user runs
           it; the time is the whole process (folder scan, decoding,
           training, validation, checkpoints). Also timed with
           --exact-resize (full JPEG decode before resizing, as PIL does).
  PyTorch: torchvision ImageFolder (PIL decoding) with transforms that do
           the .cnn's preprocessing and augmentation (Resize to the input
           size, RandomHorizontalFlip, RandomAffine for rotate / zoom /
           translate / shear, ColorJitter for brightness / contrast,
           ToTensor for rescale 1/255), DataLoader with shuffle and
           pin_memory off (CPU), the twin from `cnnc --emit pytorch` in
           channels_last, torch.optim of the .cnn's optimizer,
           torch.set_num_threads(N). The DataLoader settings are searched:
           every (num_workers, prefetch_factor) is screened with 2 epochs
           (persistent_workers on when num_workers > 0) and the one with the
           best projected E-epoch time (epoch 1 + (E-1) x epoch 2) runs the
           timed training; each with libgomp's default waiting and with
           OMP_WAIT_POLICY=PASSIVE (better when other processes share the
           cores). The time runs from building the datasets to the
           end of the last validation; `import torch` (about 2-4 s here) is
           left out, which favours PyTorch.
The PyTorch process runs with jemalloc without decay and OpenBLAS (see
scripts/compare.py; --openblas-threads picks OPENBLAS_NUM_THREADS, or
--blas-dir another libblas.so.3 such as OpenBLAS's OpenMP build).

--repeat K: each timed run K times, medians reported.
Prints one table (--json: one JSON object instead); --json-out also writes
every figure as JSON, --svg FILE draws them as a bar chart. Without torch
and torchvision the cnnc rows are still timed, and the way to install
PyTorch is printed.
"""
import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (same folder)
import train_pytorch  # noqa: E402  (same folder; standard library imports only at the top)


# ---- the .cnn's data settings, read for the PyTorch side ------------------------

def data_settings(path):
    """What the PyTorch side needs to mirror the .cnn's data handling (the
    block parsing is train_pytorch.py's)."""
    b = train_pytorch.cnn_blocks(path)
    s = {"rescale": None, "offset": 0.0, "grayscale": False, "validation_split": 0.2, "seed": 123}
    s.update(train_pytorch.augment_settings(b["augment"]))
    m = re.search(r"\brescale\s+([0-9.]+(?:/[0-9.]+)?)(?:\s+offset\s*=\s*(-?[0-9.]+))?", b["preprocess"])
    if m:
        s["rescale"] = train_pytorch.number(m.group(1))
        s["offset"] = float(m.group(2) or 0)
    s["grayscale"] = bool(re.search(r"\bgrayscale\b", b["preprocess"]))
    for k in ("edges", "brightness"):
        if re.search(r"\b" + k + r"\b", b["preprocess"]):
            raise compare.CompareError(f"preprocess step '{k}' has no PyTorch counterpart in compare_e2e")
    m = re.search(r"\bvalidation_split\s+([0-9.]+)", b["train"])
    if m:
        s["validation_split"] = float(m.group(1))
    m = re.search(r"\bseed\s+([0-9]+)", b["train"])
    if m:
        s["seed"] = int(m.group(1))
    return s


# ---- the PyTorch worker ------------------------------------------------------------

def worker_main(a):
    import importlib.util

    import torch
    import torchvision.transforms as T
    from torch.utils.data import DataLoader, Subset
    from torchvision.datasets import ImageFolder

    torch.set_num_threads(a.threads)
    spec = importlib.util.spec_from_file_location("twin", a.twin)
    twin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twin)
    s = json.loads(a.settings)
    h, w, c = twin.INPUT_SHAPE

    def transforms(train):
        t = [T.Resize((h, w))]
        if s["grayscale"] or c == 1:
            t.append(T.Grayscale(num_output_channels=c))
        if train:
            t += train_pytorch.torchvision_augmentations(T, s)
        t.append(T.ToTensor())  # 0..1 floats: rescale 1/255
        if s["rescale"] is None:
            t.append(T.Lambda(lambda x: x * 255.0))
        elif abs(s["rescale"] - 1 / 255) > 1e-12 or s["offset"]:
            r, o = s["rescale"], s["offset"]
            t.append(T.Lambda(lambda x: x * (255.0 * r) + o))
        return T.Compose(t)

    def make_loaders(workers, prefetch):
        train_all = ImageFolder(a.data, transform=transforms(True))
        val_all = ImageFolder(a.data, transform=transforms(False))
        tr, va = [], []
        if s.get("split_csv"):
            # The timed runs: exactly the cnnc trainer's split (its run
            # folder's split.csv), so both validate on the same images.
            where = {os.path.relpath(p, a.data): i for i, (p, _) in enumerate(train_all.samples)}
            with open(s["split_csv"]) as f:
                for row in csv.DictReader(f):
                    (tr if row["subset"] == "training" else va).append(where[row["path"]])
        else:
            # Screening (timing only): a stratified split with the .cnn's
            # seed, the same sizes: the last `split` of each class, after a
            # seeded shuffle, is validation.
            g = torch.Generator().manual_seed(s["seed"])
            targets = torch.tensor(train_all.targets)
            for k in range(len(train_all.classes)):
                idx = torch.nonzero(targets == k).flatten()
                idx = idx[torch.randperm(len(idx), generator=g)].tolist()
                nv = int(round(len(idx) * s["validation_split"]))
                va += idx[len(idx) - nv:]
                tr += idx[:len(idx) - nv]
        kw = {"num_workers": workers, "pin_memory": False}
        if workers > 0:
            kw.update(persistent_workers=True, prefetch_factor=prefetch)
        tl = DataLoader(Subset(train_all, tr), batch_size=a.batch, shuffle=True, drop_last=False, **kw)
        vl = DataLoader(Subset(val_all, va), batch_size=a.batch, shuffle=False, **kw)
        return tl, vl, len(tr), len(va)

    def optimizer_for(params):
        o = twin.OPTIMIZER
        if o["kind"] == "adam":
            return torch.optim.Adam(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["epsilon"])
        if o["kind"] == "rmsprop":
            return torch.optim.RMSprop(params, lr=o["lr"], alpha=o["rho"], eps=o["epsilon"])
        return torch.optim.SGD(params, lr=o["lr"], momentum=o.get("momentum", 0.0), nesterov=o.get("nesterov", False))

    def train(workers, prefetch, epochs):
        """Returns (total seconds, [seconds per epoch], last val accuracy, n_train, n_val)."""
        torch.manual_seed(s["seed"])
        t0 = time.perf_counter()
        tl, vl, ntr, nva = make_loaders(workers, prefetch)
        # the cnnc trainer's initial weights, bit for bit, from the same seed
        model = twin.init_cnnc(twin.Net(), s["seed"]).to(memory_format=torch.channels_last)
        opt = optimizer_for(model.parameters())
        per_epoch, acc = [], 0.0
        for _ in range(epochs):
            te = time.perf_counter()
            model.train()
            for x, y in tl:
                opt.zero_grad(set_to_none=True)
                twin.loss(model(x.contiguous(memory_format=torch.channels_last)), y).backward()
                opt.step()
            model.eval()
            right = 0
            with torch.inference_mode():
                for x, y in vl:
                    logits = model(x.contiguous(memory_format=torch.channels_last))
                    pred = (logits[:, 0] > 0).long() if twin.N_OUTPUTS == 1 else logits.argmax(1)
                    right += int((pred == y).sum())
            acc = right / max(nva, 1)
            per_epoch.append(time.perf_counter() - te)
        total = time.perf_counter() - t0
        del tl, vl  # stops persistent workers
        return total, per_epoch, acc, ntr, nva

    if a.mode == "screen":
        for cfg in json.loads(a.loader_configs):
            total, per, acc, ntr, nva = train(cfg["workers"], cfg["prefetch"], 2)
            print(json.dumps({**cfg, "screen_epochs": per, "projected": per[0] + (a.epochs - 1) * per[1]}),
                  flush=True)
    else:
        cfg = json.loads(a.loader_configs)[0]
        total, per, acc, ntr, nva = train(cfg["workers"], cfg["prefetch"], a.epochs)
        print(json.dumps({**cfg, "seconds": total, "epoch_seconds": per, "val_accuracy": acc,
                          "train_images": ntr, "val_images": nva}), flush=True)
    return 0


# ---- driver -------------------------------------------------------------------------

def torch_env(threads, openblas_threads, passive, blas_dir):
    env = dict(os.environ)
    for k in ("OMP_WAIT_POLICY", "LD_LIBRARY_PATH", "OPENBLAS_NUM_THREADS", "LD_PRELOAD", "MALLOC_CONF"):
        env.pop(k, None)
    env.update({"OMP_NUM_THREADS": str(threads)})
    if passive:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    if blas_dir:
        env["LD_LIBRARY_PATH"] = blas_dir
    elif os.path.isdir(compare.OPENBLAS_DIR):
        env.update({"LD_LIBRARY_PATH": compare.OPENBLAS_DIR, "OPENBLAS_NUM_THREADS": str(openblas_threads)})
    if os.path.exists(compare.JEMALLOC):
        env.update({"LD_PRELOAD": compare.JEMALLOC, "MALLOC_CONF": compare.JEMALLOC_CONF})
    return env


def run_torch(a, twin, settings, mode, configs, passive):
    cmd = [a.python, os.path.abspath(__file__), "--worker", mode, "--twin", twin, a.cnn, a.data,
           "--epochs", str(a.epochs), "--batch", str(a.batch), "--threads", str(a.threads),
           "--settings", json.dumps(settings), "--loader-configs", json.dumps(configs)]
    out = compare.run(cmd, env=torch_env(a.threads, a.openblas_threads, passive, a.blas_dir), what=f"PyTorch ({mode})")
    return [{**json.loads(l), "omp_passive": passive} for l in out.splitlines() if l.startswith("{")]


def split_counts(path):
    """(training, validation) image counts of a trainer's split.csv."""
    with open(path) as f:
        subsets = [row["subset"] for row in csv.DictReader(f)]
    return sum(1 for v in subsets if v == "training"), sum(1 for v in subsets if v != "training")


def run_cnnc(a, trainer, work, exact):
    out_dir = os.path.join(work, "run_cnnc")
    shutil.rmtree(out_dir, ignore_errors=True)
    cmd = [trainer, "train", "--data", a.data, "--epochs", str(a.epochs), "--threads", str(a.threads),
           "--batch", str(a.batch), "--out", out_dir, "--quiet"]
    if exact:
        cmd.append("--exact-resize")
    t0 = time.monotonic()
    compare.run(cmd, what="cnnc trainer")
    total = time.monotonic() - t0
    acc = None
    try:
        with open(os.path.join(out_dir, "history.csv")) as f:
            rows = [l.strip().split(",") for l in f if l.strip()]
        col = rows[0].index("val_accuracy")
        acc = float(rows[-1][col])
    except (OSError, ValueError, IndexError):
        pass
    return {"seconds": total, "val_accuracy": acc}


def draw_svg(result, path):
    import compare_svg
    bars = []
    keys = {"cnnc trainer": "cnnc", "cnnc trainer --exact-resize": "cnnc_exact", "PyTorch + torchvision": "torch"}
    for r in result["engines"]:
        note = f"{r['train_images_per_s']:.0f} img/s"
        if r["val_accuracy"] is not None:
            note += f", val acc {r['val_accuracy']:.3f}"
        if r["speedup_vs_pytorch"] is not None and keys.get(r["engine"]) != "torch":
            note += f", {r['speedup_vs_pytorch']:.2f}x faster than PyTorch"
        bars.append({"label": r["engine"], "key": keys.get(r["engine"]), "value": r["seconds"], "note": note})
    if result.get("pytorch_missing"):
        bars.append({"label": "PyTorch + torchvision", "key": "torch", "value": None,
                     "note": "not timed: " + result["pytorch_missing"].split(";")[0]})
    compare_svg.bar_chart(
        path, f"{os.path.basename(result['file'])}: {result['epochs']} epochs on {os.path.basename(result['data'])}",
        f"{result['train_images']} training + {result['val_images']} validation images, batch {result['batch']}, "
        f"{result['threads']} threads, decoding included; median of {result['repeat']} run(s)",
        [{"title": "Whole training run", "unit": "seconds (lower is faster)", "suffix": " s", "bars": bars}])


def main(argv=None, prog="compare_e2e.sh"):
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("cnn", nargs="?")
    ap.add_argument("data", nargs="?")
    ap.add_argument("--data", dest="data_flag", metavar="DIR", help="the image folder (or the second argument)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch", type=int, help="(default: the .cnn's)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--workers", default="0,1,2", help="DataLoader num_workers to try (default: 0,1,2)")
    ap.add_argument("--prefetch", default="2,4", help="prefetch_factor values to try with workers (default: 2,4)")
    ap.add_argument("--openblas-threads", type=int, default=1,
                    help="OPENBLAS_NUM_THREADS of the PyTorch process (default: 1, the best found by compare.sh)")
    ap.add_argument("--blas-dir", help="PyTorch's libblas.so.3 from this folder instead (e.g. OpenBLAS's OpenMP build)")
    ap.add_argument("--no-exact", action="store_true", help="skip the cnnc --exact-resize run")
    ap.add_argument("--build-dir")
    ap.add_argument("--cnnc")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    ap.add_argument("--json-out", metavar="FILE")
    ap.add_argument("--svg", metavar="FILE", help="also draw the figures as a bar chart into FILE (SVG)")
    ap.add_argument("--skip-missing", action="store_true",
                    help="exit 77 (CTest's skip) when DATA_DIR or torch is missing")
    # worker (internal)
    ap.add_argument("--worker", choices=("screen", "run"), help=argparse.SUPPRESS, dest="mode")
    ap.add_argument("--twin", help=argparse.SUPPRESS)
    ap.add_argument("--settings", help=argparse.SUPPRESS)
    ap.add_argument("--loader-configs", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.mode:
        return worker_main(a)
    a.data = a.data or a.data_flag
    if not a.cnn or not a.data:
        ap.error("FILE.cnn and DATA_DIR are required")
    if not os.path.isdir(a.data):
        if a.skip_missing:
            print(f"compare_e2e: skipped: {a.data} is missing")
            return 77
        ap.error(f"{a.data}: not a folder")
    a.data = os.path.abspath(a.data)
    for out in (a.svg, a.json_out):
        if out and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            ap.error(f"{out}: its folder does not exist")
    have_torch = compare.python_has_torch(a.python, "torchvision")
    missing = None
    if not have_torch:
        what = "torchvision" if compare.python_has_torch(a.python) else "torch/torchvision"
        missing = (f"no {what} for {a.python}; install them (Debian: apt-get install python3-torch "
                   "python3-torchvision; elsewhere: pip install torch torchvision), or name a Python that has "
                   "them with --python")
        if a.skip_missing:
            print(f"compare_e2e: skipped: {missing}", file=sys.stderr)
            return 77
        print(f"compare: PyTorch not timed: {missing}", file=sys.stderr)

    work = tempfile.mkdtemp(prefix="cnnc-e2e-")
    try:
        cnnc, _, _ = compare.find_tools(a)
        gen = os.path.join(work, "gen")
        os.makedirs(gen)
        compare.run([cnnc, a.cnn, "-o", gen], what="cnnc")
        name = [f for f in os.listdir(gen) if f.endswith(".c")][0][:-2]
        trainer, twin = os.path.join(work, name), os.path.join(work, name + ".py")
        compare.run([cnnc, "build", a.cnn, "-o", trainer], what="cnnc build")
        compare.run([cnnc, "--emit", "pytorch", a.cnn, "-o", twin], what="cnnc --emit pytorch")
        if a.batch is None:
            with open(twin) as f:
                a.batch = int(re.search(r"^BATCH = (\d+)", f.read(), re.M).group(1))
        settings = data_settings(a.cnn)

        loads = [compare.load_average()]
        cfgs = []
        for wk in (int(v) for v in a.workers.split(",")):
            for pf in ([int(v) for v in a.prefetch.split(",")] if wk > 0 else [2]):
                cfgs.append({"workers": wk, "prefetch": pf})
        screen, best, best_cfg = [], None, None
        if have_torch:
            screen = (run_torch(a, twin, settings, "screen", cfgs, False)
                      + run_torch(a, twin, settings, "screen", cfgs, True))
            best = min(screen, key=lambda r: r["projected"])
            best_cfg = {"workers": best["workers"], "prefetch": best["prefetch"]}

        runs = {"cnnc": [], "cnnc_exact": [], "torch": []}
        ntr = nva = None
        for _ in range(a.repeat):
            runs["cnnc"].append(run_cnnc(a, trainer, work, False))
            split = os.path.join(work, "split.csv")
            shutil.copyfile(os.path.join(work, "run_cnnc", "split.csv"), split)
            if ntr is None:
                ntr, nva = split_counts(split)
            if not a.no_exact:
                runs["cnnc_exact"].append(run_cnnc(a, trainer, work, True))
            if have_torch:
                runs["torch"] += run_torch(a, twin, {**settings, "split_csv": split}, "run", [best_cfg],
                                           best["omp_passive"])
            loads.append(compare.load_average())
    except compare.CompareError as e:
        print(f"compare_e2e: error: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = statistics.median
    t_torch = med([r["seconds"] for r in runs["torch"]]) if runs["torch"] else None
    rows = []
    for key, label in (("cnnc", "cnnc trainer"), ("cnnc_exact", "cnnc trainer --exact-resize"),
                       ("torch", "PyTorch + torchvision")):
        if not runs[key]:
            continue
        t = med([r["seconds"] for r in runs[key]])
        accs = [r["val_accuracy"] for r in runs[key] if r["val_accuracy"] is not None]
        rows.append({"engine": label, "seconds": t, "train_images_per_s": ntr * a.epochs / t,
                     "val_accuracy": med(accs) if accs else None,
                     "speedup_vs_pytorch": t_torch / t if t_torch else None,
                     "all_seconds": [r["seconds"] for r in runs[key]]})
    result = {"file": a.cnn, "data": a.data, "epochs": a.epochs, "batch": a.batch, "threads": a.threads,
              "train_images": ntr, "val_images": nva, "repeat": a.repeat,
              "pytorch_loader": best_cfg, "pytorch_omp_passive": best["omp_passive"] if best else None,
              "pytorch_screen": screen, "pytorch_missing": missing,
              "openblas_threads": a.openblas_threads, "blas_dir": a.blas_dir,
              "engines": rows, "runs": runs, "load_average": loads}

    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    if a.svg:
        draw_svg(result, a.svg)
    if a.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{a.cnn} on {a.data}: {ntr} training + {nva} validation images, {a.epochs} epochs, "
          f"batch {a.batch}, {a.threads} threads; median of {a.repeat} run(s)")
    print(f"{'engine':30} {'seconds':>9} {'train img/s':>12} {'val acc':>8} {'vs PyTorch':>11}   runs (s)")
    for r in rows:
        acc = "-" if r["val_accuracy"] is None else f"{r['val_accuracy']:.3f}"
        vs = "-" if r["speedup_vs_pytorch"] is None else f"{r['speedup_vs_pytorch']:.2f}x"
        print(f"{r['engine']:30} {r['seconds']:9.1f} {r['train_images_per_s']:12.1f} {acc:>8} "
              f"{vs:>11}   " + ", ".join(f"{v:.1f}" for v in r["all_seconds"]))
    if missing:
        print(f"PyTorch: not timed: {missing}")
    else:
        print(f"PyTorch DataLoader: num_workers={best_cfg['workers']}"
              + (f", prefetch_factor={best_cfg['prefetch']}, persistent_workers=True" if best_cfg["workers"] else "")
              + ", pin_memory=False" + (", OMP_WAIT_POLICY=PASSIVE" if best["omp_passive"] else "")
              + f"; screened (projected {a.epochs}-epoch s): "
              + ", ".join(f"w{r['workers']}/p{r['prefetch']}{'/passive' if r['omp_passive'] else ''}: "
                          f"{r['projected']:.1f}" for r in screen))
    print("load average (1 min) before and after each run: " + ", ".join(f"{l[0]:.2f}" for l in loads if l))
    return 0


if __name__ == "__main__":
    sys.exit(main())
