"""End-to-end tests of the trainer's stopping and rough edges (tests/trainer.cmake).

    rough_edges_test.py CASE --trainer BIN --work DIR [--cnnc BIN]

CASE is one of: interrupt, interrupt_twice, interrupt_last, early_label, flags, predict_folder,
evaluate_json, default_data, progress_width, cnnc_output.
Exit 0 on success, 1 on failure, 77 when a prerequisite is missing.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from trainer_test import Failure, check, run, run_case, make_images, read_history, file_bytes, start_and_wait_for_epoch  # noqa: E402

SKIP = 77


def stripes(a, name, per_class=60, seed=9):
    return make_images(os.path.join(a.work, name), ["horizontal", "vertical"], per_class, seed=seed, jpeg_every=0)


def fresh(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    return path


def case_interrupt(a):
    """One Ctrl-C mid-epoch: the step finishes, checkpoint and model are
    written, the message says how to resume, exit 130; --resume then ends
    with weights bitwise those of an uninterrupted run."""
    data = stripes(a, "stripes-int", 150)
    common = ["--data", data, "--epochs", "3", "--batch", "4", "--threads", "1"]
    full = fresh(os.path.join(a.work, "int-full"))
    run([a.trainer, "train", "--out", full, "--progress", "plain"] + common, 0)
    out = fresh(os.path.join(a.work, "int-run"))
    proc, buf, _, _ = start_and_wait_for_epoch(a, out, common, 2, 3)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=300)
    text = (buf + rest).decode(errors="replace")
    for f in os.listdir(out):
        check(".tmp" not in f, "a temporary file was left: %s" % f)
    err = err.decode(errors="replace")
    check(proc.returncode == 130, "exit %s after one SIGINT, expected 130\n%s\n%s" % (proc.returncode, text[-2000:], err))
    check("Interrupted" in err and "finishing this step" in err, "no notice on stderr:\n%s" % err)
    m = re.search(r"Interrupted at epoch 2, batch (\d+) of (\d+)", text)
    check(m, "no 'Interrupted at epoch 2, batch N of M' line:\n%s" % text[-2000:])
    check("Resume with: " in text and "train --resume --out %s" % out in text, "no resume hint:\n%s" % text[-1500:])
    import st_load
    meta, _ = st_load.load(os.path.join(out, "model.safetensors"), meta_only=True)
    check(meta.get("interrupted", "").startswith("epoch 2, batch"), "model.safetensors metadata %s" % meta)
    ck, _ = st_load.load(os.path.join(out, "checkpoint.safetensors"), meta_only=True)
    check(int(ck["epoch"]) == 1, "checkpoint epoch %s" % ck.get("epoch"))
    # A save cut short leaves its temporary file, never a half-written one
    # under the real name; the next run in the folder removes it and resumes.
    p = run([a.trainer, "train", "--out", out, "--progress", "plain", "--resume"] + common, 0)
    for f in os.listdir(out):
        check(".tmp" not in f, "a temporary file was left: %s" % f)
    p = run([a.trainer, "train", "--out", out, "--progress", "plain", "--resume"] + common, 0)
    check("Resuming from" in p.stdout, p.stdout[:1500])
    for f in ("model.safetensors", "best.safetensors"):
        check(file_bytes(os.path.join(full, f)) == file_bytes(os.path.join(out, f)),
              "%s of the run resumed after Ctrl-C differs from the uninterrupted run" % f)
    # The checkpoint's tensors (weights, optimizer state) too; its history
    # differs in epoch 2's training metrics, which cover the batches after
    # the resume (as Keras's BackupAndRestore resumed mid-epoch).
    _, c1 = st_load.load(os.path.join(full, "checkpoint.safetensors"))
    _, c2 = st_load.load(os.path.join(out, "checkpoint.safetensors"))
    check(sorted(c1) == sorted(c2) and all((c1[k] == c2[k]).all() for k in c1), "checkpoint tensors differ")
    h1, r1 = read_history(full)
    h2, r2 = read_history(out)
    check(len(r1) == len(r2) == 3, "history rows")
    check(r1[0] == r2[0] and r1[2] == r2[2], "epochs 1 and 3 of history.csv differ")
    check(all(r1[1][k] == r2[1][k] for k in h1 if k.startswith("val_")), "epoch 2's validation differs")


def case_interrupt_twice(a):
    """A second Ctrl-C exits at once, with 130, leaving no temporary file."""
    data = stripes(a, "stripes-int2", 150)
    out = fresh(os.path.join(a.work, "int2-run"))
    common = ["--data", data, "--epochs", "3", "--batch", "4", "--threads", "1"]
    proc, _, _, _ = start_and_wait_for_epoch(a, out, common, 1, 3)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.01)  # two signals sent at once may arrive as one
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=120)
    err = err.decode(errors="replace") + rest.decode(errors="replace")
    check(proc.returncode == 130, "exit %s after two SIGINTs, expected 130" % proc.returncode)
    # Either the second one came during the step (exit at once) or after
    # the save (nothing left to cut short).
    check("exiting now" in err or "Interrupted at" in err, err)
    # A save cut short leaves its temporary file, never a half-written one
    # under the real name; the next run in the folder removes it and resumes.
    p = run([a.trainer, "train", "--out", out, "--progress", "plain", "--resume"] + common, 0)
    for f in os.listdir(out):
        check(".tmp" not in f, "a temporary file was left: %s" % f)


def case_interrupt_last(a):
    """A Ctrl-C during the last step of the last epoch ends the run as Ctrl-C
    anywhere does (exit 130, the files written, a message), saying that
    every epoch was done; model.safetensors and the checkpoint are those of
    an uninterrupted run. One step per epoch (the batch holds the whole
    training split), so the signal sent when "Epoch 2/2" shows arrives
    during that step or the saving after it."""
    data = stripes(a, "stripes-intlast", 200)
    common = ["--data", data, "--epochs", "2", "--batch", "512", "--threads", "1", "--progress", "plain"]
    full = fresh(os.path.join(a.work, "intlast-full"))
    run([a.trainer, "train", "--out", full] + common, 0)
    import st_load
    for attempt in range(5):
        out = fresh(os.path.join(a.work, "intlast-run"))
        proc = subprocess.Popen([a.trainer, "train", "--out", out] + common, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        buf = b""
        while b"Epoch 2/2" not in buf:
            ch = proc.stdout.read1(4096)
            if not ch:
                break
            buf += ch
        check(b"Epoch 2/2" in buf, "no 'Epoch 2/2' line:\n%s" % buf.decode(errors="replace")[-2000:])
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=300)
        text, err = (buf + rest).decode(errors="replace"), err.decode(errors="replace")
        if "finishing this step" not in err:
            # the signal came after the trainer had written every file and
            # stopped catching it (killed at once), or after it exited: try again
            check(proc.returncode in (0, -signal.SIGINT), "exit %s, no notice\n%s" % (proc.returncode, err))
            continue
        check(proc.returncode == 130, "exit %s after a Ctrl-C in the last step, expected 130\n%s\n%s"
              % (proc.returncode, text[-2000:], err))
        check("Interrupted after the run's last step: all its epochs were done" in text, text[-2000:])
        check("To train further: " in text and "--resume --epochs N --out %s" % out in text, text[-1000:])
        for f in os.listdir(out):
            check(".tmp" not in f, "a temporary file was left: %s" % f)
        for f in ("model.safetensors", "checkpoint.safetensors", "best.safetensors", "history.csv"):
            check(file_bytes(os.path.join(full, f)) == file_bytes(os.path.join(out, f)),
                  "%s differs from the uninterrupted run's" % f)
        meta, _ = st_load.load(os.path.join(out, "model.safetensors"), meta_only=True)
        check(meta["epoch"] == "2" and "interrupted" not in meta, "model.safetensors metadata %s" % meta)
        print("interrupt_last: the SIGINT came during the last epoch in try %d" % (attempt + 1))
        return
    raise Failure("in 5 tries the SIGINT never arrived while the last epoch ran")


def case_early_label(a):
    """After early stopping restores the best weights, model.safetensors is
    labelled with the best epoch, and holds best.safetensors' tensors."""
    data = stripes(a, "stripes-es", 60, seed=3)
    out = fresh(os.path.join(a.work, "es-run"))
    p = run([a.trainer, "train", "--data", data, "--out", out, "--progress", "plain", "--threads", "1",
             "--epochs", "30", "--early-stopping", "--monitor", "val_loss", "--patience", "1", "--lr", "0.01"], 0)
    m = re.search(r"Early stopping after epoch (\d+).*best [0-9.]+ at epoch (\d+)", p.stdout)
    check(m, "the run did not stop early:\n%s" % p.stdout[-2000:])
    last, best = int(m.group(1)), int(m.group(2))
    check(best < last, p.stdout[-1000:])
    import st_load
    meta, t_model = st_load.load(os.path.join(out, "model.safetensors"))
    _, t_best = st_load.load(os.path.join(out, "best.safetensors"))
    check(int(meta["epoch"]) == best, "model.safetensors says epoch %s, the best was %d" % (meta["epoch"], best))
    check("the best weights, epoch %d" % best in p.stdout, p.stdout[-800:])
    for k in t_best:
        check((t_model[k] == t_best[k]).all(), "tensor %s differs from best.safetensors" % k)


def case_flags(a):
    t = a.trainer
    for args, want in ((["train", "--epochs", "0"], "--epochs 0: expected a whole number of epochs from 1"),
                       (["train", "--patience", "100001"], "--patience 100001: expected"),
                       (["train", "--optimizer", "adam", "--momentum", "0.9"], "--momentum does not apply to adam"),
                       (["train", "--optimizer", "rmsprop", "--beta1", "0.5"], "--beta1 does not apply to rmsprop"),
                       (["train", "--optimizer", "sgd", "--rho", "0.5"], "--rho does not apply to sgd"),
                       (["train", "--batch-size", "32"], "did you mean --batch?"),
                       (["train", "--epoch", "3"], "did you mean --epochs?"),
                       (["train", "--learning_rate", "0.1", "--optimzer", "sgd"], "did you mean --optimizer?"),
                       (["evalute"], "did you mean 'evaluate'?")):
        p = run([t] + args, 1)
        check(want in p.stderr, "%s: %s" % (" ".join(args), p.stderr))
    p = run([t, "train", "--optimizer", "sgd", "--momentum", "0.9", "--bogus"], 1)
    check("does not take --bogus" in p.stderr and "did you mean" not in p.stderr, p.stderr)


def train_small(a, name, per_class=30, epochs="1"):
    data = stripes(a, name, per_class, seed=4)
    out = fresh(os.path.join(a.work, name + "-run"))
    p = run([a.trainer, "train", "--data", data, "--out", out, "--progress", "plain", "--threads", "1",
             "--epochs", epochs], 0)
    return data, out, p


def case_predict_folder(a):
    """predict FOLDER classifies every image under it, recursively, in the
    order train reads a class folder; a file that is not an image is
    skipped with a note; the lines match predicting the files one by one."""
    data, out, p = train_small(a, "pf")
    check("1 epoch," in p.stdout and "1 epochs" not in p.stdout, "plural: %s" % p.stdout[:400])
    with open(os.path.join(data, "vertical", "README.txt"), "w") as f:
        f.write("not an image\n")
    os.makedirs(os.path.join(data, "vertical", "deeper"), exist_ok=True)
    shutil.copy(os.path.join(data, "vertical", "000.png"), os.path.join(data, "vertical", "deeper", "x.png"))
    p = run([a.trainer, "predict", "--out", out, data], 0)
    lines = [l.split("\t") for l in p.stdout.strip().split("\n")]
    paths = [l[0] for l in lines]
    want = []
    for root, dirs, files in os.walk(data):
        dirs.sort()
        for f in files:
            if not f.startswith(".") and f.endswith(".png"):
                want.append(os.path.join(root, f))
    check(sorted(paths) == sorted(want) and len(paths) == 61, "predict FOLDER printed %d paths" % len(paths))
    check(paths == sorted(paths), "not in sorted order")
    check("README.txt" in p.stderr and "skipped" in p.stderr, p.stderr)
    one = run([a.trainer, "predict", "--out", out] + paths[:5], 0)
    check(one.stdout.strip().split("\n") == p.stdout.strip().split("\n")[:5], "folder and file predictions differ")
    bad = run([a.trainer, "predict", "--out", out, os.path.join(data, "vertical", "README.txt")], 1)
    check("error" in bad.stderr, bad.stderr)


def case_evaluate_json(a):
    data, out, _ = train_small(a, "ej")
    p = run([a.trainer, "evaluate", "--out", out, "--data", data, "--json"], 0)
    j = json.loads(p.stdout)
    t = run([a.trainer, "evaluate", "--out", out, "--data", data], 0).stdout
    check(j["images"] == 60 and j["classes"] == ["horizontal", "vertical"], j)
    check("loss: %.4f" % j["loss"] in t and "accuracy: %.4f" % j["accuracy"] in t, "json and text differ:\n%s\n%s" % (j, t))
    check(sum(map(sum, j["confusion"])) == 60 and len(j["class_accuracy"]) == 2, j)
    check("auc" in j and "precision" in j, j)


def case_default_data(a):
    """A missing data path from the train block says so and suggests --data;
    cnnc build -o DIR/BIN makes DIR."""
    if not a.cnnc:
        return SKIP
    src = os.path.join(HERE, "stripes.cnn")
    with open(src) as f:
        text = f.read()
    d = fresh(os.path.join(a.work, "dd"))
    os.makedirs(d)
    cnn = os.path.join(d, "withdata.cnn")
    with open(cnn, "w") as f:
        f.write(text.replace("train {", 'train {\n    data "no/such/folder"'))
    binp = os.path.join(d, "made", "here", "withdata")
    run([a.cnnc, "build", cnn, "-o", binp], 0)
    check(os.access(binp, os.X_OK), "cnnc build -o DIR/BIN did not make DIR")
    for cmd in (["train"], ["evaluate"]):
        p = run([binp] + cmd + ["--out", os.path.join(d, "r")], 1, cwd=d)
        check("no/such/folder" in p.stderr and "train block" in p.stderr and "--data" in p.stderr, p.stderr)


def case_progress_width(a):
    """With 4 metrics and COLUMNS=120 every redrawn progress line fits in
    119 columns (no wrap, so no new line at each redraw)."""
    data = stripes(a, "pw", 150)
    out = fresh(os.path.join(a.work, "pw-run"))
    ansi = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
    for cols in (120, 60):
        env = dict(os.environ, COLUMNS=str(cols))
        # bytes: text mode would turn each '\r' into a new line
        p = subprocess.run([a.trainer, "train", "--data", data, "--out", out, "--progress", "bar", "--epochs", "1",
                            "--batch", "4", "--threads", "1"], stdout=subprocess.PIPE, env=env, timeout=600)
        check(p.returncode == 0, "exit %d" % p.returncode)
        stdout = p.stdout.decode()
        redraws = 0
        for line in stdout.split("\n"):
            parts = line.split("\r")
            for part in parts[1:-1]:  # redrawn ones; the epoch's last part is final
                redraws += 1
                vis = ansi.sub("", part)
                check(len(vis) <= cols - 1, "a %d-column progress line at COLUMNS=%d: %r" % (len(vis), cols, vis))
        check(redraws > 0, "no progress redraws seen")
        last = [l for l in stdout.split("\n") if "img/s" in l][-1].split("\r")[-1]
        check("precision" in last and "val_auc" in last, "the epoch's last line lost metrics: %r" % last)


def case_cnnc_output(a):
    """cnnc FILE.cnn -o DIR makes DIR; cnnc build refuses a folder as its output before compiling."""
    if not a.cnnc:
        return SKIP
    d = fresh(os.path.join(a.work, "co"))
    os.makedirs(d)
    src = os.path.join(HERE, "stripes.cnn")
    run([a.cnnc, src, "-o", os.path.join(d, "a", "b")], 0)
    check(os.path.isfile(os.path.join(d, "a", "b", "stripes.c")), "cnnc -o DIR did not make DIR")
    # The C compiler named by $CC leaves a mark when it runs: a refusal made
    # before compiling leaves none.
    mark = os.path.join(d, "compiled")
    cc = os.path.join(d, "cc.sh")
    with open(cc, "w") as f:
        f.write("#!/bin/sh\ntouch '%s'\nexit 1\n" % mark)
    os.chmod(cc, 0o755)
    env = dict(os.environ, CC=cc)
    p = run([a.cnnc, "build", src, "-o", d], 1, env=env)
    check("is a folder" in p.stderr, p.stderr)
    with open(os.path.join(d, "file"), "w") as f:
        f.write("x")
    p = run([a.cnnc, "build", src, "-o", os.path.join(d, "file", "bin")], 1, env=env)
    check("not a folder" in p.stderr, p.stderr)
    check(not os.path.exists(mark), "the output path was checked after compiling")
    p = run([a.cnnc, "build", src, "-o", os.path.join(d, "bin")], 1, env=env)
    check(os.path.exists(mark), "the marking compiler did not run: the test cannot tell before from after")


CASES = {k[5:]: v for k, v in globals().items() if k.startswith("case_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--trainer", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cnnc")
    a = ap.parse_args()
    try:
        import PIL  # noqa: F401
    except ImportError:
        print("skipped: PIL (python3-pil) is not installed")
        return SKIP
    a.work = os.path.join(a.work, "rough_" + a.case)
    return run_case(CASES, a)


if __name__ == "__main__":
    sys.exit(main())
