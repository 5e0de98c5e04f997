#!/usr/bin/env python3
"""The trainer's default thread count on an idle and on a loaded machine.

    bench_threads.py TRAINER... [--rounds N] [--seconds S] [--load K]
                     [--config NAME=ENV:FLAGS ...]

For each trainer, runs `TRAINER bench --json` in each configuration, the
configurations interleaved round by round (so that a change in the
machine's other load hits them alike), first with the machine as it is
("idle"), then with K busy loops (`yes > /dev/null`) beside it ("loaded").
Prints the median training images/s of each configuration and the ratio
of the default (no --threads flag) to the better of --threads 1 and
--threads 2 (docs/benchmarks.md). ENV is VAR=VALUE[,VAR=VALUE] or '-', FLAGS
the extra bench flags ('-' for none), e.g. passive=OMP_WAIT_POLICY=passive:-.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def bench(trainer, env, flags, seconds):
    e = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        e.pop(k, None)
    e.update(env)
    p = subprocess.run([trainer, "bench", "--json", "--seconds", str(seconds)] + flags, env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("%s bench failed: %s" % (trainer, p.stderr))
    return json.loads(p.stdout)["train_images_per_s"]


def parse_config(s):
    name, rest = s.split("=", 1)
    env_s, flags_s = rest.rsplit(":", 1)
    env = {} if env_s == "-" else dict(kv.split("=", 1) for kv in env_s.split(","))
    flags = [] if flags_s == "-" else flags_s.split()
    return name, env, flags


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trainers", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--load", type=int, default=2)
    ap.add_argument("--config", action="append", default=[])
    a = ap.parse_args()
    configs = [("default", {}, []), ("threads1", {}, ["--threads", "1"]), ("threads2", {}, ["--threads", "2"])]
    configs += [parse_config(c) for c in a.config]
    print("machine: %s, %d cores" % (cpu_model(), os.cpu_count()))
    for cond in ("idle", "loaded"):
        hogs = []
        if cond == "loaded":
            hogs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(a.load)]
        try:
            for t in a.trainers:
                rates = {c[0]: [] for c in configs}
                load = []
                for _ in range(a.rounds):
                    for name, env, flags in configs:
                        load.append(os.getloadavg()[0])
                        rates[name].append(bench(t, env, flags, a.seconds))
                med = {k: statistics.median(v) for k, v in rates.items()}
                best = max(med["threads1"], med["threads2"])
                print("%s %s (load average %.1f-%.1f): %s" % (
                    os.path.basename(t), cond, min(load), max(load),
                    ", ".join("%s %.0f img/s (%.2fx of the better of 1 and 2 threads)" % (k, v, v / best)
                              for k, v in med.items())))
                sys.stdout.flush()
        finally:
            for h in hogs:
                h.kill()
                h.wait()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
