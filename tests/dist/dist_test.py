#!/usr/bin/env python3
"""Data-parallel training under mpirun (docs/distributed.md).

    dist_test.py CASE --cnnc CNNC --work DIR

Builds tests/dist/mpinet.cnn with `cnnc build --mpi` (and without), writes
synthetic class folders (pngs.py) and runs:
  equal2   1 process (the --mpi trainer alone, and the plain trainer) and
           mpirun -np 2: weights, checkpoint and history.csv bit for bit
  equal    the same for -np 1, 2 and 4 (oversubscribed), 1 and 2 threads
  resume   2 epochs with -np 4, then --resume to epoch 4 with -np 2:
           bitwise the uninterrupted run
  kill     SIGKILL of rank 1 mid-run: the job ends within 30 s naming the
           rank; the last checkpoint is intact and --resume finishes
  mismatch a rank with another data folder (an image missing, or one file
           of another size) is refused at start, naming the difference;
           --strict with an unreadable image that rank 1 reads ends the job
           naming the file and the rank
  share    share_test (--share-test) under -np 2 and 3: the first pass shared
           by the ranks gives each the one-process cache, byte for byte
The runs with more than one rank also check rank 0's line about the first
pass: each rank decoded its share of the files.
Exit 77 (skip) when mpirun or the MPI runtime library is missing."""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pngs  # noqa: E402

MPIRUN = shutil.which("mpirun")
HERE = os.path.dirname(os.path.abspath(__file__))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, expect=0, timeout=600):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        fail("%s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s" %
             (" ".join(cmd), p.returncode, expect, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def mpirun(n, args, expect=0, timeout=600):
    return run([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", str(n)] + args, expect, timeout)


def same(a, b, what):
    for f in ("model.safetensors", "checkpoint.safetensors", "history.csv"):
        with open(os.path.join(a, f), "rb") as x, open(os.path.join(b, f), "rb") as y:
            if x.read() != y.read():
                fail("%s: %s differs from %s's" % (what, os.path.join(b, f), a))
    print("ok: %s: weights, checkpoint and history.csv bitwise equal" % what)


def setup(a):
    os.makedirs(a.work, exist_ok=True)
    data = os.path.join(a.work, "data")
    if not os.path.isdir(data):
        pngs.make(data, 30)  # 66 training images: the last batch of 2 leaves 2 of 4 ranks empty
    mpi = os.path.join(a.work, "mpinet")
    plain = os.path.join(a.work, "mpinet_plain")
    p = run([a.cnnc, "build", os.path.join(HERE, "mpinet.cnn"), "--mpi", "-o", mpi], expect=None)
    if p.returncode != 0 and "built without MPI" in p.stderr:
        print("SKIP: " + p.stderr.strip())
        sys.exit(77)
    if p.returncode != 0:
        fail("cnnc build --mpi failed:\n" + p.stderr)
    run([a.cnnc, "build", os.path.join(HERE, "mpinet.cnn"), "-o", plain])
    return data, mpi, plain


def train(trainer, data, out, threads, *extra):
    shutil.rmtree(out, ignore_errors=True)
    return [trainer, "train", "--data", data, "--out", out, "--threads", str(threads), "--quiet"] + list(extra)


def case_equal(a, ranks):
    data, mpi, plain = setup(a)
    ref = os.path.join(a.work, "alone")
    run(train(mpi, data, ref, 1))
    out = os.path.join(a.work, "plain")
    run(train(plain, data, out, 2))
    same(ref, out, "the trainer built without --mpi, 2 threads")
    for n, threads in ranks:
        out = os.path.join(a.work, "np%d_t%d" % (n, threads))
        p = mpirun(n, [x for x in train(mpi, data, out, threads) if x != "--quiet"])
        if n > 1 and p.stdout.count("Saved ") != 1:
            fail("-np %d: expected one summary (rank 0's), got:\n%s" % (n, p.stdout))
        if n > 1:
            shared_pass(p.stdout, n)
        same(ref, out, "mpirun -np %d, %d thread%s each" % (n, threads, "s" if threads > 1 else ""))


def shared_pass(stdout, n):
    """Rank 0's line about the first pass: n ranks, each decoded about 1/n of the 90 files."""
    line = [l for l in stdout.splitlines() if " processes decoded " in l]
    if len(line) != 1:
        fail("-np %d: expected one line about the shared first pass, got:\n%s" % (n, stdout))
    words = line[0].split(" processes decoded ")[1].split(" of the ")[0].replace(",", " ").split()
    counts = [int(w) for w in words if w != "and"]
    if len(counts) != n or sum(counts) != 90 or max(counts) - min(counts) > 10:
        fail("-np %d: the ranks' shares of the 90 files: %s" % (n, line[0]))
    print("ok: " + line[0].strip())


def case_resume(a):
    data, mpi, _ = setup(a)
    ref = os.path.join(a.work, "full")
    run(train(mpi, data, ref, 1, "--epochs", "4"))
    out = os.path.join(a.work, "resumed")
    mpirun(4, train(mpi, data, out, 1, "--epochs", "2"))
    mpirun(2, [mpi, "train", "--data", data, "--out", out, "--threads", "1", "--quiet", "--epochs", "4",
               "--resume"])
    same(ref, out, "2 epochs on 4 ranks, resumed to 4 epochs on 2 ranks")


def rank_pids(launcher):
    """The trainer processes under mpirun (its children, possibly through orted)."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    procs = [l.split(None, 2) for l in out.splitlines() if l.strip()]
    kids, todo = [], [str(launcher)]
    while todo:
        p = todo.pop()
        for pid, ppid, args in procs:
            if ppid == p:
                todo.append(pid)
                if " train " in args + " " and "mpinet" in args:
                    kids.append(int(pid))
    return kids


def case_kill(a):
    data, mpi, _ = setup(a)
    out = os.path.join(a.work, "killed")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "2", mpi, "train", "--data", data, "--out", out,
           "--threads", "1", "--quiet", "--epochs", "100000"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ckpt = os.path.join(out, "checkpoint.safetensors")
    t0 = time.time()
    while not os.path.exists(ckpt) and time.time() - t0 < 120 and p.poll() is None:
        time.sleep(0.2)
    if not os.path.exists(ckpt):
        p.kill()
        fail("no checkpoint within 120 s:\n" + p.communicate()[0])
    time.sleep(1.0)
    # rank 1 is the second trainer process by start order; OMPI_COMM_WORLD_RANK tells for sure
    victim = None
    for pid in rank_pids(p.pid):
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
        except OSError:
            continue
        if env.get(b"OMPI_COMM_WORLD_RANK") == b"1":
            victim = pid
    if victim is None:
        p.kill()
        fail("cannot find rank 1's process")
    os.kill(victim, signal.SIGKILL)
    t1 = time.time()
    try:
        text = p.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        p.kill()
        fail("the job still runs 30 s after rank 1 was killed")
    print("the job ended %.1f s after SIGKILL of rank 1 (exit status %d)" % (time.time() - t1, p.returncode))
    if p.returncode == 0 or "rank 1" not in text:
        fail("expected a failure naming rank 1, got exit %d:\n%s" % (p.returncode, text[-3000:]))
    line = [l for l in text.splitlines() if "rank 1" in l][0]
    print("ok: the message names the rank: " + line.strip())
    # the checkpoint is intact: --resume continues from it (for 1 more epoch)
    with open(os.path.join(out, "history.csv")) as f:
        done = len(f.read().strip().splitlines()) - 1  # the history of the last checkpoint (written before it)
    r = mpirun(2, [mpi, "train", "--data", data, "--out", out, "--threads", "1", "--resume", "--epochs",
                   str(done + 1)], expect=None)
    with open(os.path.join(out, "history.csv")) as f:
        rows = len(f.read().strip().splitlines()) - 1
    if r.returncode != 0 or "Resuming from" not in r.stdout or rows != done + 1:
        fail("--resume after the kill failed (%d epochs done before, %d after):\n%s\n%s" %
             (done, rows, r.stdout[-2000:], r.stderr[-2000:]))
    print("ok: the last checkpoint loads and --resume continues: " + [l for l in r.stdout.splitlines()
                                                                      if "Resuming from" in l][0])


def case_mismatch(a):
    data, mpi, _ = setup(a)
    other = os.path.join(a.work, "data_other")
    shutil.rmtree(other, ignore_errors=True)
    shutil.copytree(data, other)
    os.remove(os.path.join(other, "vertical", "007.png"))
    out = os.path.join(a.work, "mismatch")
    base = ["--out", out, "--threads", "1", "--quiet"]
    cmd = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "1", mpi, "train", "--data", data] + base + \
          [":", "-np", "1", mpi, "train", "--data", other] + base
    p = run(cmd, expect=None, timeout=120)
    if p.returncode == 0 or "rank 1's training data differs from rank 0's" not in p.stderr:
        fail("a rank with one image less was not refused:\n" + p.stderr[-2000:])
    once(p.stderr, "data differs from rank 0's", "a difference every rank finds")
    print("ok: " + [l for l in p.stderr.splitlines() if "rank 1" in l][0])
    # the same file list, one file of another size
    shutil.rmtree(other)
    shutil.copytree(data, other)
    with open(os.path.join(other, "checker", "003.png"), "ab") as f:
        f.write(b"\0" * 10)
    cmd = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "1", mpi, "train", "--data", data] + base + \
          [":", "-np", "1", mpi, "train", "--data", other] + base
    p = run(cmd, expect=None, timeout=120)
    if p.returncode == 0 or "checker/003.png" not in p.stderr:
        fail("a rank with a file of another size was not refused naming it:\n" + p.stderr[-2000:])
    print("ok: " + [l for l in p.stderr.splitlines() if "003.png" in l][0])
    # --strict: an unreadable image ends the job with its name
    bad = os.path.join(a.work, "data_bad")
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(data, bad)
    with open(os.path.join(bad, "horizontal", "005.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\nnot really")
    p = mpirun(2, train(mpi, bad, out, 1, "--strict"), expect=None, timeout=120)
    # horizontal/005.png is entry 35 of 90, in block 7 of 5 entries: rank 1 reads it
    if p.returncode == 0 or "005.png" not in p.stderr or "(read on rank 1)" not in p.stderr:
        fail("--strict with a corrupt image read by rank 1 did not end the job naming it and the rank:\n" +
             p.stderr[-2000:])
    once(p.stderr, "005.png", "--strict's unreadable image")
    print("ok: --strict: " + [l for l in p.stderr.splitlines() if "005.png" in l][0])
    # an error every rank reaches alike is printed once; one rank's own error
    # reaches the terminal naming the rank
    p = mpirun(2, train(mpi, data, out, 1, "--no-such-flag"), expect=None, timeout=120)
    if p.returncode == 0:
        fail("a bad flag on every rank did not fail")
    once(p.stderr, "train does not take --no-such-flag", "a bad flag on every rank")
    if "rank 1: " in p.stderr:
        fail("a bad flag on every rank was printed as rank 1's own:\n" + p.stderr[-2000:])
    cmd = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "1", mpi, "train", "--data", data] + base + \
          [":", "-np", "1", mpi, "train", "--data", data, "--no-such-flag"] + base
    p = run(cmd, expect=None, timeout=120)
    if p.returncode == 0 or "mpinet: error: rank 1: train does not take --no-such-flag" not in p.stderr:
        fail("a bad flag on rank 1 alone did not end the job naming the rank:\n" + p.stderr[-2000:])
    once(p.stderr, "train does not take --no-such-flag", "a bad flag on rank 1 alone")
    print("ok: " + [l for l in p.stderr.splitlines() if "no-such-flag" in l][0])


def once(stderr, text, what):
    """An error message printed by one rank, not by each."""
    n = sum(1 for l in stderr.splitlines() if text in l)
    if n != 1:
        fail("%s: expected one line with %r, got %d:\n%s" % (what, text, n, stderr[-2000:]))


def case_share(a):
    for n in (2, 3):
        work = os.path.join(a.work, "np%d" % n)
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        p = mpirun(n, [a.share_test, work], expect=None, timeout=120)
        sys.stdout.write(p.stdout + p.stderr)
        if p.returncode != 0:
            fail("share_test with %d ranks exited %d" % (n, p.returncode))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--cnnc")
    ap.add_argument("--share-test")
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    if not MPIRUN:
        print("SKIP: mpirun is not installed (scripts/install-deps.sh test installs openmpi-bin)")
        sys.exit(77)
    a.work = os.path.join(a.work, a.case)
    if a.case == "share":
        case_share(a)
        return
    if not a.cnnc:
        fail("--cnnc is needed for case " + a.case)
    if a.case == "equal2":
        case_equal(a, [(2, 1)])
    elif a.case == "equal":
        case_equal(a, [(1, 1), (2, 1), (2, 2), (4, 1), (4, 2)])
    elif a.case == "resume":
        case_resume(a)
    elif a.case == "kill":
        case_kill(a)
    elif a.case == "mismatch":
        case_mismatch(a)
    else:
        fail("unknown case " + a.case)


if __name__ == "__main__":
    main()
