#!/usr/bin/python3
"""compare.py: cnnc's generated trainer, the generic reference engine and
PyTorch on the same work, in one table.

usage: cnnc compare FILE.cnn [--batch N] [--threads N] [--seconds S]
                            [--search full|quick] [--repeat K] [--all] [--json]
                            [--svg FILE] [--no-onnx | --onnx-only]
                            [--ort-dir DIR [--ort-install]]
       cnnc compare FILE.cnn --data DIR [--epochs N] ...   (compare_e2e.py)
(scripts/compare.sh runs the same from a source tree.)

For FILE.cnn it
  1. builds the trainer with `cnnc build` (and reports how long that took),
  2. runs `NAME bench --json`: images/s of a training step (forward, loss,
     backward, optimizer) and of inference, and the machine's FP32 peak from
     the FMA probe in the same binary; with --weights FILE also on those
     trained weights (`NAME bench --weights FILE`, a second cnnc row),
  3. compiles tests/bench/bench_reference.c with the model's descriptor and
     times the generic reference engine (runtime/reference/) on the same
     batch (that engine is single-threaded by design); an installed cnnc
     keeps these sources in PREFIX/share/cnnc/reference ($CNNC_REFERENCE_SRC),
  4. emits the PyTorch twin (`cnnc --emit pytorch`) and times it on the same
     batch, input shape and thread count: a training step is zero_grad,
     forward, the model's loss, backward and torch.optim's step of the
     model's optimizer (Adam for the reference network); inference is
     forward in eval() mode under torch.inference_mode(). PyTorch is timed in
     every configuration of a search (below) and the best one is reported.
  5. one image per call on one thread: `cnnc export`'s NAME_predict_tensor
     against ONNX Runtime (onnxruntime-node from npm, graph optimizations
     on) on the twin exported to ONNX, same weights, same tensor, the two
     run one after the other in each run (compare_onnx.py). ONNX Runtime is
     found in --ort-dir, else by node from the current folder
     (./node_modules, NODE_PATH); without node or the package the section
     says how to get it and times the exported C alone. --no-onnx leaves
     the section out, --onnx-only times it alone.
All engines get random images in [0, 1) and random labels: speed does not
depend on the values. Every engine runs one or more untimed warm-up steps,
then steps for --seconds; its rate is batch / its median step time (what
`NAME bench` reports: robust to a busy machine).

The PyTorch search (--search full, the default) crosses
  process environment: BLAS: OpenBLAS (pthread build, via LD_LIBRARY_PATH)
                       with OPENBLAS_NUM_THREADS = N or 1, OpenBLAS's OpenMP
                       build when libopenblas0-openmp is installed, and any
                       --blas-dir folder; allocator: glibc
                       or jemalloc (LD_PRELOAD) that keeps freed memory
                       (MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1);
  in the process:      memory format contiguous (NCHW) or channels_last;
                       torch.backends.mkldnn.enabled on or off; for
                       inference also torch.jit.trace + freeze +
                       optimize_for_inference;
with torch.set_num_threads(N) (and OMP_NUM_THREADS=N) everywhere. Every
configuration is first screened with a short timing; the three best of each
phase are then timed again like the other engines (3 warm-up steps, then
--seconds), each also with OMP_WAIT_POLICY=PASSIVE (sleeping instead of
spinning OpenMP threads, which wins when other processes share the cores),
and the best of those is reported: the best training and the best
inference configuration are chosen separately and named under the table
(--all lists every figure). --search quick times only the
configuration the full search finds best on the machines cnnc is
measured on (OpenBLAS, jemalloc, channels_last, mkldnn on; docs/benchmarks.md).

--repeat K runs everything K times and reports the median of each figure
(the per-run figures are in --json). Ratios compare figures of the same run.
The PyTorch screen runs once, in the first run; every run times its chosen
candidates again.

The PyTorch worker needs torch in the interpreter given by --python (default:
/usr/bin/python3, Debian's python3-torch). Without torch the PyTorch row says
so, the way to install it is printed, and the other engines are still timed.

--svg FILE draws the table as a bar chart (compare_svg.py). --data DIR runs
the end-to-end comparison instead (a whole training on a folder of images:
compare_e2e.py; `--data DIR --help` lists its flags).

Exit status: 0 when the table was printed, 1 on an error (cnnc, a compiler
or an engine failed, or the exported C and ONNX Runtime disagree by more
than 1e-5), 2 on bad usage.
"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import compare_onnx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
OPENBLAS_OPENMP_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"  # libopenblas0-openmp, when installed
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"


class CompareError(Exception):
    pass


# ---- locating cnnc and its runtime --------------------------------------------

def find_tools(args):
    """cnnc, the runtime's include folder and libcnnrt.a: from the flags, then
    the environment (the same variables `cnnc build` reads; `cnnc compare`
    sets them and $CNNC to itself), then the build folder (--build-dir,
    $CNNC_BUILD_DIR, or REPO/build)."""
    build = args.build_dir or os.environ.get("CNNC_BUILD_DIR") or os.path.join(REPO, "build")
    cnnc = args.cnnc or os.environ.get("CNNC") or os.path.join(build, "compiler", "cnnc")
    rt_inc = os.environ.get("CNNC_RUNTIME_INCLUDE") or os.path.join(REPO, "runtime", "include")
    rt_lib = os.environ.get("CNNC_RUNTIME_LIB") or os.path.join(build, "runtime", "libcnnrt.a")
    if not os.access(cnnc, os.X_OK):
        raise CompareError(f"cnnc not found at {cnnc}: build it (cmake -S . -B build && cmake --build build) "
                           "or pass --build-dir / --cnnc")
    if not os.path.exists(os.path.join(rt_inc, "cnn_model.h")):
        raise CompareError(f"runtime headers not found in {rt_inc} (set CNNC_RUNTIME_INCLUDE)")
    if not os.path.exists(rt_lib):
        raise CompareError(f"runtime library {rt_lib} not found (build the cnnrt target or set CNNC_RUNTIME_LIB)")
    # Taken from a build folder, they must be built from the sources here:
    # a stale cnnc would benchmark an older code generator without a word.
    if not (args.cnnc or os.environ.get("CNNC")):
        check_fresh(cnnc, "compiler", build)
    if not os.environ.get("CNNC_RUNTIME_LIB"):
        check_fresh(rt_lib, "runtime", build)
    return cnnc, rt_inc, rt_lib


def check_fresh(built, folder, build):
    """Raises CompareError when a source file of REPO/folder is newer than
    the file built from it. Sources only, not headers: every .c, .l and .y
    there is compiled into it (so a rebuild always clears the error), while
    a header may be included by nothing that a rebuild would redo."""
    t = os.path.getmtime(built)
    for name in sorted(os.listdir(os.path.join(REPO, folder))):
        src = os.path.join(REPO, folder, name)
        if name.endswith((".c", ".l", ".y")) and os.path.getmtime(src) > t:
            raise CompareError(f"{built} is older than {folder}/{name}: rebuild it (cmake --build {build}), "
                               "or name the files to use as they are (--cnnc, CNNC_RUNTIME_LIB)")


def run(cmd, env=None, what=None):
    """Runs cmd; returns stdout. Raises CompareError with stderr on failure."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip()[-2000:]
        raise CompareError(f"{what or cmd[0]} failed (exit status {p.returncode}):\n{tail}")
    return p.stdout


def last_json(text, what):
    """The last line of text that parses as a JSON object."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                pass
    raise CompareError(f"{what}: no JSON result in its output:\n{text[-2000:]}")


# The generic reference engine's sources (runtime/reference/).
REFERENCE_C = ("reference.c", "reference_layers.c")


def reference_sources():
    """(bench_reference.c, [the engine's .c files], [include folders]) of the generic
    reference engine: $CNNC_REFERENCE_SRC (an installed cnnc's
    PREFIX/share/cnnc/reference, every file in one folder), else the
    source tree's."""
    d = os.environ.get("CNNC_REFERENCE_SRC")
    if d:
        srcs = (os.path.join(d, "bench_reference.c"), [os.path.join(d, f) for f in REFERENCE_C], [d])
    else:
        srcs = (os.path.join(REPO, "tests", "bench", "bench_reference.c"),
                [os.path.join(REPO, "runtime", "reference", f) for f in REFERENCE_C],
                [os.path.join(REPO, "runtime", f) for f in ("core", "train", "reference")])
    for f in [srcs[0]] + srcs[1]:
        if not os.path.exists(f):
            raise CompareError(f"the reference engine's source {f} is missing" +
                               (" (CNNC_REFERENCE_SRC)" if d else ""))
    return srcs


def build_all(cnn, tools, work):
    """Builds the trainer, the reference-engine timer and the PyTorch twin in
    work/. Returns (name, trainer, bench_reference, twin.py, build_seconds)."""
    cnnc, rt_inc, rt_lib = tools
    gen = os.path.join(work, "gen")
    os.makedirs(gen, exist_ok=True)
    run([cnnc, cnn, "-o", gen], what="cnnc")
    cfiles = glob.glob(os.path.join(gen, "*.c"))
    if len(cfiles) != 1:
        raise CompareError(f"cnnc wrote {len(cfiles)} C files into {gen}, expected one")
    name = os.path.basename(cfiles[0])[:-2]

    trainer = os.path.join(work, name)
    t0 = time.monotonic()
    run([cnnc, "build", cnn, "-o", trainer], what="cnnc build")
    build_seconds = time.monotonic() - t0

    # The same compiler and flags as `cnnc build`.
    cc = (os.environ.get("CC") or "cc").split()
    timer = os.path.join(work, "bench_reference")
    bench_c, reference_cs, ref_includes = reference_sources()
    run(cc + ["-std=c11", "-O2", "-march=native", "-ffp-contract=fast", "-fopenmp",
              f"-DBENCH_MODEL={name}_model", "-I" + rt_inc, "-I" + gen]
             + ["-I" + d for d in ref_includes]
             + [cfiles[0], bench_c] + reference_cs
             + [rt_lib, "-ljpeg", "-lpng", "-lz", "-lm", "-lpthread", "-o", timer], what="compiling bench_reference")

    twin = os.path.join(work, name + ".py")
    run([cnnc, "--emit", "pytorch", cnn, "-o", twin], what="cnnc --emit pytorch")
    return name, trainer, timer, twin, build_seconds


def emit_twin(cnn, tools, work):
    """--onnx-only: the PyTorch twin alone. Returns (name, twin.py)."""
    twin = os.path.join(work, "twin.py")
    run([tools[0], "--emit", "pytorch", cnn, "-o", twin], what="cnnc --emit pytorch")
    with open(twin) as f:
        m = re.search(r"^MODEL_NAME = ['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]", f.read(), re.M)
    if not m:
        raise CompareError(f"no MODEL_NAME in {twin}")
    return m.group(1), twin


# ---- the PyTorch search ----------------------------------------------------------

def torch_envs(threads, search, blas_dirs=()):
    """[(label, environment overrides)] of the process-level PyTorch settings.
    blas_dirs: more folders holding a libblas.so.3 to try (LD_LIBRARY_PATH)."""
    blas = [("system BLAS", {})]
    if os.path.isdir(OPENBLAS_DIR):
        blas = [(f"OpenBLAS {threads} thr", {"LD_LIBRARY_PATH": OPENBLAS_DIR, "OPENBLAS_NUM_THREADS": str(threads)})]
        if threads > 1:
            blas.append(("OpenBLAS 1 thr", {"LD_LIBRARY_PATH": OPENBLAS_DIR, "OPENBLAS_NUM_THREADS": "1"}))
    # OpenMP builds share PyTorch's OpenMP threads (OMP_NUM_THREADS=N).
    extra = ([OPENBLAS_OPENMP_DIR] if os.path.isdir(OPENBLAS_OPENMP_DIR) else []) + list(blas_dirs)
    for d in extra:
        if not os.path.exists(os.path.join(d, "libblas.so.3")):
            raise CompareError(f"--blas-dir {d}: no libblas.so.3 there")
        blas.append((f"BLAS {os.path.basename(os.path.normpath(d))}", {"LD_LIBRARY_PATH": d}))
    alloc = [("glibc malloc", {})]
    if os.path.exists(JEMALLOC):
        alloc.insert(0, ("jemalloc no-decay", {"LD_PRELOAD": JEMALLOC, "MALLOC_CONF": JEMALLOC_CONF}))
    envs = []
    for bl, be in blas:
        for al, ae in alloc:
            envs.append((f"{bl}, {al}", {**be, **ae, "OMP_NUM_THREADS": str(threads)}))
    return envs[:1] if search == "quick" else envs


def python_has_torch(python, *more):
    """Whether python can import torch (and the modules in more)."""
    try:
        p = subprocess.run([python, "-c", "import " + ", ".join(("torch",) + more)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return False
    return p.returncode == 0


def run_worker(args, twin, python, env_label, overrides, configs, warmup, seconds, min_steps):
    """Times configs ([{"format", "mkldnn", "phases"}]) in one PyTorch process
    with the environment overrides; returns one record per (config, phase):
    {"env", "format", "mkldnn", "phase", "images_per_s"}."""
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "MALLOC_CONF", "LD_LIBRARY_PATH", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
              "OMP_WAIT_POLICY"):
        env.pop(k, None)
    env.update(overrides)
    cmd = [python, os.path.abspath(__file__), "--torch-worker", twin, "--batch", str(args.batch),
           "--threads", str(args.threads), "--seconds", str(seconds), "--worker-warmup", str(warmup),
           "--worker-min-steps", str(min_steps), "--worker-configs", json.dumps(configs)]
    out = run(cmd, env=env, what=f"PyTorch worker ({env_label})")
    recs = []
    for line in out.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            r["env"] = env_label
            recs.append(r)
    return recs


def time_torch(args, twin, python, chosen=None):
    """The PyTorch search. --search quick: the usual best configuration only.
    --search full: every configuration is screened (1 warm-up step, then
    steps for a quarter of --seconds, at least 2), then the three best of
    each phase (training, inference) are timed again like the other engines
    (3 warm-up steps, then --seconds, at least 2 steps); the best of those
    is reported. chosen (from an earlier run) skips the screen. Returns
    (every record, marked "stage": "screen" or "final"; chosen), chosen
    being {(env label, format, mkldnn): [phases]}."""
    envs = torch_envs(args.threads, args.search, args.blas_dir)
    screen = []
    if chosen is None and args.search == "quick":
        chosen = {(envs[0][0], "channels_last", True): ["train", "infer"]}
    if chosen is None:
        screen = screen_torch(args, twin, python, envs)
        # The three best of each phase, regrouped per environment.
        chosen = {}
        for kind in ("train", "infer"):
            recs = sorted((r for r in screen if r["phase"].startswith(kind)), key=lambda r: -r["images_per_s"])
            for r in recs[:3]:
                chosen.setdefault((r["env"], r["format"], r["mkldnn"]), []).append(r["phase"])
    final = []
    for label, ov in envs:
        cfgs = [{"format": f, "mkldnn": k, "phases": ph} for (e, f, k), ph in chosen.items() if e == label]
        if cfgs:
            final += run_worker(args, twin, python, label, ov, cfgs, 3, args.seconds, 2)
            # Finalists also with sleeping OpenMP threads: libgomp's spinning
            # barriers lose badly when other processes share the cores.
            if args.search == "full":
                final += run_worker(args, twin, python, label + ", OMP_WAIT_POLICY=PASSIVE",
                                    {**ov, "OMP_WAIT_POLICY": "PASSIVE"}, cfgs, 3, args.seconds, 2)
    for r in final:
        r["stage"] = "final"
    return screen + final, chosen


def screen_torch(args, twin, python, envs):
    """Every configuration, timed briefly."""
    grid = [{"format": f, "mkldnn": k, "phases": ["train", "infer"] + (["infer_jit"] if k else [])}
            for f in ("channels_last", "contiguous") for k in (True, False)]
    screen = []
    for label, ov in envs:
        screen += run_worker(args, twin, python, label, ov, grid, 1, args.seconds / 4, 2)
    for r in screen:
        r["stage"] = "screen"
    return screen


def torch_label(r):
    parts = [r["env"], r["format"], "mkldnn on" if r["mkldnn"] else "mkldnn off"]
    if r["phase"] == "infer_jit":
        parts.append("jit trace+freeze+optimize_for_inference")
    return ", ".join(parts)


def worker_main(args):
    """Runs inside the PyTorch process: times each configuration of the twin
    and prints one JSON line per (configuration, phase)."""
    import importlib.util

    import torch

    torch.set_num_threads(args.threads)
    spec = importlib.util.spec_from_file_location("twin", args.torch_worker)
    twin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(twin)
    h, w, c = twin.INPUT_SHAPE
    n = args.batch
    g = torch.Generator().manual_seed(123)
    x0 = torch.rand((n, c, h, w), generator=g)
    classes = 2 if twin.N_OUTPUTS == 1 else twin.N_OUTPUTS
    y = torch.randint(0, classes, (n,), generator=g)

    def timed(fn):
        """images/s of fn's median step (as `NAME bench`): warm-up steps,
        then steps until args.seconds have passed and at least
        --worker-min-steps were timed."""
        for _ in range(args.worker_warmup):
            fn()
        times, t_end = [], time.perf_counter() + args.seconds
        while True:
            t0 = time.perf_counter()
            fn()
            t1 = time.perf_counter()
            times.append(t1 - t0)
            if len(times) >= args.worker_min_steps and t1 >= t_end:
                return n / statistics.median(times)

    def optimizer_for(params):
        o = twin.OPTIMIZER
        if o["kind"] == "adam":
            return torch.optim.Adam(params, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["epsilon"])
        if o["kind"] == "rmsprop":
            return torch.optim.RMSprop(params, lr=o["lr"], alpha=o["rho"], eps=o["epsilon"])
        return torch.optim.SGD(params, lr=o["lr"], momentum=o.get("momentum", 0.0), nesterov=o.get("nesterov", False))

    for cfg in json.loads(args.worker_configs):
        torch.backends.mkldnn.enabled = cfg["mkldnn"]
        fmt = torch.channels_last if cfg["format"] == "channels_last" else torch.contiguous_format
        torch.manual_seed(123)
        model = twin.init_keras(twin.Net()).to(memory_format=fmt)
        x = x0.contiguous(memory_format=fmt)
        opt = optimizer_for(model.parameters())
        base = {"format": cfg["format"], "mkldnn": cfg["mkldnn"]}
        for phase in cfg["phases"]:
            if phase == "train":
                model.train()

                def train_step():
                    opt.zero_grad(set_to_none=True)
                    twin.loss(model(x), y).backward()
                    opt.step()

                rate = timed(train_step)
            elif phase == "infer":
                model.eval()
                with torch.inference_mode():
                    rate = timed(lambda: model(x))
            else:
                # TorchScript's inference path: conv+relu fusion, weights
                # pre-packed for oneDNN. Not every network traces: a failure
                # drops this variant only.
                model.eval()
                try:
                    with torch.no_grad():
                        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, x)))
                        rate = timed(lambda: frozen(x))
                except Exception as e:  # noqa: BLE001
                    print(f"jit variant skipped: {e}", file=sys.stderr)
                    continue
            print(json.dumps({**base, "phase": phase, "images_per_s": rate}), flush=True)
    return 0


# ---- one comparison ------------------------------------------------------------

def load_average():
    try:
        with open("/proc/loadavg") as f:
            return [float(v) for v in f.read().split()[:3]]
    except OSError:
        return None


def one_run(args, trainer, timer, twin, python, have_torch, chosen):
    """One measurement of every engine. Returns a dict of raw figures.
    chosen: PyTorch's candidate configurations from the first run's screen
    (None in the first run). Returns (figures, chosen)."""
    res = {"load_before": load_average()}
    res["cnnc"] = last_json(run([trainer, "bench", "--batch", str(args.batch), "--threads", str(args.threads),
                                 "--seconds", str(args.seconds), "--json"], what="trainer bench"), "trainer bench")
    if args.weights:
        # The same step on trained weights: their relu sparsity lets the fused
        # conv + maxpool backward skip more than random weights do
        # (docs/benchmarks.md, "Why cnnc's speed depends on the values").
        res["cnnc_trained"] = last_json(run([trainer, "bench", "--batch", str(args.batch), "--threads",
                                             str(args.threads), "--seconds", str(args.seconds), "--json",
                                             "--weights", args.weights], what="trainer bench --weights"),
                                        "trainer bench --weights")
    res["reference"] = last_json(run([timer, "--batch", str(args.batch), "--seconds", str(args.seconds), "--json"],
                                     what="bench_reference"), "bench_reference")
    if have_torch:
        res["torch_all"], chosen = time_torch(args, twin, python, chosen)
        final = [r for r in res["torch_all"] if r["stage"] == "final"]
        best_t = max((r for r in final if r["phase"] == "train"), key=lambda r: r["images_per_s"])
        best_i = max((r for r in final if r["phase"] != "train"), key=lambda r: r["images_per_s"])
        res["torch"] = {"train_images_per_s": best_t["images_per_s"], "train_config": torch_label(best_t),
                        "infer_images_per_s": best_i["images_per_s"], "infer_config": torch_label(best_i)}
    res["load_after"] = load_average()
    return res, chosen


def summarize(runs, args, have_torch, python):
    """Median over runs of each engine's figures, with ratios per run."""
    c0 = runs[0]["cnnc"]
    fwd, trn = c0["forward_flops_per_image"], c0["train_flops_per_image"]
    med = statistics.median
    peak = med([r["cnnc"]["peak_gflops"] for r in runs])
    rows = []
    engines = [("cnnc (generated C)", "cnnc", args.threads)]
    if args.weights:
        engines[0] = ("cnnc (generated C), random weights", "cnnc", args.threads)
        engines.append(("cnnc (generated C), trained weights", "cnnc_trained", args.threads))
    engines.append(("reference engine (generic C)", "reference", 1))
    if have_torch:
        engines.append(("PyTorch best", "torch", args.threads))
    for label, key, threads in engines:
        tr = med([r[key]["train_images_per_s"] for r in runs])
        inf = med([r[key]["infer_images_per_s"] for r in runs])
        row = {"engine": label, "key": key, "threads": threads, "train_images_per_s": tr, "infer_images_per_s": inf,
               "train_gflops": tr * trn * 1e-9, "infer_gflops": inf * fwd * 1e-9}
        row["train_percent_of_peak"] = 100 * row["train_gflops"] / peak if peak else None
        row["infer_percent_of_peak"] = 100 * row["infer_gflops"] / peak if peak else None
        if have_torch:
            # Ratios within each run, then the median.
            row["train_vs_pytorch"] = med([r[key]["train_images_per_s"] / r["torch"]["train_images_per_s"] for r in runs])
            row["infer_vs_pytorch"] = med([r[key]["infer_images_per_s"] / r["torch"]["infer_images_per_s"] for r in runs])
        rows.append(row)
    out = {"model": c0["model"], "file": args.cnn, "batch": args.batch, "threads": args.threads,
           "seconds_per_phase": args.seconds, "repeat": len(runs), "search": args.search if have_torch else None,
           "weights": args.weights, "peak_gflops": peak, "forward_flops_per_image": fwd, "train_flops_per_image": trn,
           "engines": rows, "runs": runs}
    if have_torch:
        # The configuration that won most often (ties: the first run's).
        def winner(k):
            names = [r["torch"][k] for r in runs]
            return max(names, key=names.count)
        out["pytorch_train_config"] = winner("train_config")
        out["pytorch_infer_config"] = winner("infer_config")
    else:
        out["pytorch_missing"] = (f"no torch for {python}; install it (Debian: apt-get install python3-torch; "
                                  "elsewhere: pip install torch), or name a Python that has it with --python")
    return out


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_table(s, build_seconds):
    print(f"{s['model']} ({s['file']}): batch {s['batch']}, {s['threads']} threads, "
          f"{s['forward_flops_per_image'] * 1e-6:.1f} MFLOP forward / {s['train_flops_per_image'] * 1e-6:.1f} MFLOP "
          f"training per image; median of {s['repeat']} run(s), {s['seconds_per_phase']} s per phase")
    hdr = ["engine", "threads", "train img/s", "infer img/s", "train GFLOP/s", "train %peak",
           "infer GFLOP/s", "infer %peak", "train vs PyTorch", "infer vs PyTorch"]
    rows = []
    for r in s["engines"]:
        rows.append([r["engine"], str(r["threads"]), fmt(r["train_images_per_s"], ".1f"),
                     fmt(r["infer_images_per_s"], ".1f"), fmt(r["train_gflops"], ".1f"),
                     fmt(r["train_percent_of_peak"], ".1f") + "%", fmt(r["infer_gflops"], ".1f"),
                     fmt(r["infer_percent_of_peak"], ".1f") + "%",
                     fmt(r.get("train_vs_pytorch"), ".2f") + "x" if "train_vs_pytorch" in r else "-",
                     fmt(r.get("infer_vs_pytorch"), ".2f") + "x" if "infer_vs_pytorch" in r else "-"])
    if "pytorch_missing" in s:
        rows.append(["PyTorch", "-", "-", "-", "-", "-", "-", "-", "-", "-"])
    compare_onnx.print_table(hdr, rows)
    print(f"FP32 peak by the trainer's FMA probe ({s['threads']} thread{'s' if s['threads'] != 1 else ''}): {s['peak_gflops']:.1f} GFLOP/s "
          "(every %peak is of this; the reference engine uses 1 thread)")
    if "pytorch_missing" in s:
        print(f"PyTorch: not timed: {s['pytorch_missing']}")
    else:
        print(f"PyTorch training config:  {s['pytorch_train_config']}")
        print(f"PyTorch inference config: {s['pytorch_infer_config']}")
    if s.get("weights"):
        print(f"trained weights: {s['weights']} (the other engines run on random initial weights; "
              "PyTorch's kernels do the same work whatever the values)")
    print(f"cnnc build {s['file']}: {build_seconds:.1f} s (C compilation included)")
    loads = [r["load_before"] for r in s["runs"] if r.get("load_before")] + \
            [r["load_after"] for r in s["runs"] if r.get("load_after")]
    if loads:
        print("load average (1 min) around the runs: " + ", ".join(f"{l[0]:.2f}" for l in loads))


def print_search(s):
    """Every PyTorch configuration of every run (--all)."""
    print("\nPyTorch search (images/s; screen: short timing of every configuration, final: the best\n"
          "three of each phase timed again like the other engines):")
    for i, r in enumerate(s["runs"], 1):
        for t in r.get("torch_all", []):
            phase = "train" if t["phase"] == "train" else "infer"
            print(f"  run {i}  {t['stage']:6} {phase}  {t['images_per_s']:9.1f}  {torch_label(t)}")


def draw_svg(s, path):
    """The table as a bar chart: training and inference images/s per engine."""
    import compare_svg
    panels = []
    for phase, title in (("train", "Training step (forward, loss, backward, optimizer)"),
                         ("infer", "Inference (forward only)")):
        bars = []
        for e in s["engines"]:
            ratio = e.get(f"{phase}_vs_pytorch")
            note = f"{e['threads']} thr"
            if ratio is not None and e["key"] != "torch":
                note += f", {ratio:.2f}x PyTorch"
            bars.append({"label": e["engine"], "key": e["key"], "value": e[f"{phase}_images_per_s"], "note": note})
        if "pytorch_missing" in s:
            bars.append({"label": "PyTorch", "key": "torch", "value": None,
                         "note": "not timed: no torch (apt-get install python3-torch)"})
        panels.append({"title": title, "unit": "images/s (higher is faster)", "bars": bars})
    one = compare_onnx.svg_panel(s["export_onnx"]) if "export_onnx" in s else None
    if one:
        panels.append(one)
    notes = [f"FP32 peak by the trainer's FMA probe: {s['peak_gflops']:.1f} GFLOP/s ({s['threads']} threads); "
             f"median of {s['repeat']} run(s), {s['seconds_per_phase']} s per phase"]
    if "pytorch_missing" not in s:
        notes += [f"PyTorch training: {s['pytorch_train_config']}", f"PyTorch inference: {s['pytorch_infer_config']}"]
    compare_svg.bar_chart(path, f"{s['model']}: cnnc vs the reference engine vs PyTorch",
                          f"{s['file']}, batch {s['batch']}, {s['forward_flops_per_image'] * 1e-6:.1f} MFLOP "
                          f"forward / {s['train_flops_per_image'] * 1e-6:.1f} MFLOP training per image",
                          panels, notes)


def draw_svg_one(s, path):
    """--onnx-only: the one-image panel alone."""
    import compare_svg
    panel = compare_onnx.svg_panel(s["export_onnx"]) if "export_onnx" in s else None
    if panel is None:
        panel = {"title": "One image per call, one thread (exported inference)", "unit": "images/s",
                 "bars": [{"label": "cnnc export (C)", "key": "cnnc", "value": None,
                           "note": "not timed: " + s.get("export_onnx", {}).get("missing", "")}]}
    e = s.get("export_onnx", {})
    compare_svg.bar_chart(path, f"{s['model']}: cnnc export vs ONNX Runtime", f"{s['file']}, one thread",
                          [panel], [f"CPU: {e.get('cpu', 'unknown')}; medians of {s['repeat']} A/B run(s), "
                                    f"{s['seconds_per_phase']} s each"])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    prog = os.environ.get("CNNC_COMPARE_PROG", "compare.sh")
    if any(a == "--data" or a.startswith("--data=") for a in argv):
        return e2e_main(argv, prog)
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0],
                                 epilog="The end-to-end comparison (a whole training on a folder of images, "
                                        f"decoding included): {prog} FILE.cnn --data DIR [--epochs N]; "
                                        f"{prog} FILE.cnn --data DIR --help lists its flags.")
    ap.add_argument("cnn", nargs="?", help="the .cnn network")
    ap.add_argument("--batch", type=int, help="images per step (default: the model's batch)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads (default: all cores)")
    ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds per phase and engine (default: 2)")
    ap.add_argument("--search", choices=("full", "quick"), default="full", help="PyTorch configurations to try")
    ap.add_argument("--repeat", type=int, default=1, help="runs; the table shows medians (default: 1)")
    ap.add_argument("--all", action="store_true", help="also list every PyTorch configuration's figures")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    ap.add_argument("--json-out", metavar="FILE", help="also write the JSON object to FILE")
    ap.add_argument("--svg", metavar="FILE", help="also draw the figures as a bar chart into FILE (SVG)")
    ap.add_argument("--weights", metavar="FILE",
                    help="also time cnnc's step on these trained weights (a model.safetensors of this network)")
    ap.add_argument("--build-dir", help="cnnc's CMake build folder (default: $CNNC_BUILD_DIR or REPO/build)")
    ap.add_argument("--cnnc", help="the cnnc binary (default: BUILD/compiler/cnnc)")
    ap.add_argument("--python", default="/usr/bin/python3", help="Python with torch (default: /usr/bin/python3)")
    ap.add_argument("--blas-dir", action="append", default=[],
                    help="also try PyTorch with the libblas.so.3 of this folder (repeatable)")
    ap.add_argument("--work", help="keep the built files in this folder (default: a temporary one, removed)")
    ap.add_argument("--no-onnx", action="store_true",
                    help="leave out the one-image comparison of cnnc export with ONNX Runtime")
    ap.add_argument("--onnx-only", action="store_true",
                    help="time only cnnc export against ONNX Runtime (one image per call, one thread)")
    ap.add_argument("--ort-dir", default=os.environ.get("CNNC_ORT_DIR"),
                    help="a folder with node_modules/onnxruntime-node (default: $CNNC_ORT_DIR, else node's "
                         "search from the current folder)")
    ap.add_argument("--ort-install", action="store_true",
                    help="npm install --ignore-scripts onnxruntime-node into --ort-dir when it is not there")
    # The PyTorch worker (internal: compare.py runs itself in each environment).
    ap.add_argument("--torch-worker", help=argparse.SUPPRESS)
    ap.add_argument("--worker-configs", help=argparse.SUPPRESS)
    ap.add_argument("--worker-warmup", type=int, default=3, help=argparse.SUPPRESS)
    ap.add_argument("--worker-min-steps", type=int, default=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.torch_worker:
        return worker_main(args)
    if not args.cnn:
        ap.error("a .cnn file is required")
    if args.threads < 1 or args.repeat < 1 or args.seconds < 0 or (args.batch is not None and args.batch < 1):
        ap.error("--threads, --repeat and --batch must be positive, --seconds not negative")
    if not os.path.isfile(args.cnn):
        ap.error(f"{args.cnn}: no such file")
    if args.weights and not os.path.isfile(args.weights):
        ap.error(f"--weights {args.weights}: no such file")
    if args.weights:
        args.weights = os.path.abspath(args.weights)
    if args.no_onnx and args.onnx_only:
        ap.error("--no-onnx and --onnx-only exclude each other")
    if args.ort_install and not args.ort_dir:
        ap.error("--ort-install needs --ort-dir (the folder to install onnxruntime-node into)")
    for out in (args.svg, args.json_out):
        if out and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            ap.error(f"{out}: its folder does not exist")

    work = args.work or tempfile.mkdtemp(prefix="cnnc-compare-")
    os.makedirs(work, exist_ok=True)
    try:
        tools = find_tools(args)
        have_torch = python_has_torch(args.python)
        if args.onnx_only:
            name, twin = emit_twin(args.cnn, tools, work)
            build_seconds = None
        else:
            name, trainer, timer, twin, build_seconds = build_all(args.cnn, tools, work)
        if args.batch is None:
            with open(twin) as f:
                m = re.search(r"^BATCH = (\d+)", f.read(), re.M)
            args.batch = int(m.group(1)) if m else 32
        ctx = None
        if not args.no_onnx:
            try:
                ctx = compare_onnx.prepare(os.path.abspath(args.cnn), name, twin, tools[0], args.python, work,
                                           args.ort_dir, args.ort_install, have_torch)
            except RuntimeError as e:
                raise CompareError(f"the one-image comparison: {e}")
        runs, one_runs, chosen = [], [], None
        for _ in range(args.repeat):
            if not args.onnx_only:
                res, chosen = one_run(args, trainer, timer, twin, args.python, have_torch, chosen)
                runs.append(res)
            if ctx and "missing" not in ctx:
                try:
                    one_runs.append(compare_onnx.time_once(ctx, args.seconds))
                except RuntimeError as e:
                    raise CompareError(f"the one-image comparison: {e}")
        if args.onnx_only:
            s = {"model": name, "file": args.cnn, "repeat": args.repeat, "seconds_per_phase": args.seconds}
        else:
            s = summarize(runs, args, have_torch, args.python)
            s["build_seconds"] = build_seconds
            if not have_torch:
                print(f"compare: PyTorch not timed: {s['pytorch_missing']}", file=sys.stderr)
        if ctx:
            s["export_onnx"] = compare_onnx.summarize(ctx, one_runs)
            s["export_onnx"]["cpu"] = compare_onnx.cpu_model()
            for why in ("missing", "ort_missing"):
                if why in s["export_onnx"]:
                    print(f"compare: {'cnnc export and ' if why == 'missing' else ''}ONNX Runtime not timed: "
                          f"{s['export_onnx'][why]}", file=sys.stderr)
    except CompareError as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(s, f, indent=1)
            f.write("\n")
    if args.svg:
        draw_svg_one(s, args.svg) if args.onnx_only else draw_svg(s, args.svg)
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        if not args.onnx_only:
            print_table(s, build_seconds)
            if args.all:
                print_search(s)
        if "export_onnx" in s:
            compare_onnx.print_section(s["export_onnx"], args.seconds)
    diff = s.get("export_onnx", {}).get("max_abs_diff", 0)
    if diff > compare_onnx.TOLERANCE:
        print(f"compare: error: the exported C and ONNX Runtime disagree by {diff:.2e} (more than "
              f"{compare_onnx.TOLERANCE:g})", file=sys.stderr)
        return 1
    return 0


def e2e_main(argv, prog):
    """`--data DIR`: the end-to-end comparison (compare_e2e.py)."""
    import compare_e2e
    return compare_e2e.main(argv, prog=f"{prog} FILE.cnn --data DIR")


if __name__ == "__main__":
    sys.exit(main())
