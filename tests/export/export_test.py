"""Tests of `cnnc export` (see tests/export.cmake and docs/deploy.md).

    export_test.py CASE --cnnc BIN --work DIR [--trainer BIN] [--cnn FILE]
                   [--classes N] [--compilers LIST] [--harness FILE] [--doc FILE]
                   [--expect [COUNT:]TEXT ...]

CASE:
  parity   train the model of --cnn (its trainer --trainer) for one epoch on
           images drawn here, export it, compile the exported file with each
           of --compilers (gcc/clang, native: the AVX-512 kernels where the
           CPU has them, portable: -DCNN_PORTABLE_KERNELS) with -std=c99
           -pedantic -O2 -Wall -Wextra -Werror, check `nm -u` (nothing but
           memcpy/memset/memmove), and compare NAME_predict on PNGs (gray,
           RGB, RGBA; the input size and others) with `NAME predict --json`
           on the same files, and on a JPEG decoded in full by PIL with
           `predict --exact-resize`: within 1e-5, same class names; with
           --expect COUNT:TEXT, TEXT occurs COUNT times in the exported file,
           with --expect TEXT at least once (the kernels the network is
           meant to exercise)
  refuse   weights of another model, a missing, misshapen, F16 or extra
           tensor, the wrong number of class names, a corrupt file: each
           refused with a message naming the mismatch, no file written
  wasm     the exported file compiles for wasm32 with clang -ffreestanding
           -nostdlib (skips when clang has no wasm32 target)
  example  the example program of docs/deploy.md, built with libpng and the
           fruit export of `parity`, run on PNGs: the same classes and
           probabilities as `fruit predict`
Exit 0 on success, 1 on failure, 77 when a prerequisite is missing (skip).
"""
import argparse
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
STRICT = ["-std=c99", "-pedantic", "-O2", "-Wall", "-Wextra", "-Werror"]


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run(args, expect=0, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if expect is not None and p.returncode != expect:
        raise Failure("%s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                      % (" ".join(args), p.returncode, expect, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def model_name(cnn):
    for line in open(cnn):
        if line.strip().startswith("model "):
            return line.split()[1]
    raise Failure("no model line in %s" % cnn)


def model_input(cnn):
    for line in open(cnn):
        m = re.match(r"\s*input\s+(\d+)x(\d+)x(\d+)", line)
        if m:
            return tuple(int(v) for v in m.groups())
    raise Failure("no input line in %s" % cnn)


# ---- images -------------------------------------------------------------------

def blobs_image(mode, w, h, rng):
    """Smooth random blobs plus noise: resize-sensitive, not constant."""
    from PIL import Image, ImageDraw, ImageFilter
    img = Image.new("RGB", (w, h), tuple(rng.randint(0, 255) for _ in range(3)))
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.randint(-w // 2, w), rng.randint(-h // 2, h)
        d.ellipse([x0, y0, x0 + rng.randint(1, w), y0 + rng.randint(1, h)],
                  fill=tuple(rng.randint(0, 255) for _ in range(3)))
    img = img.filter(ImageFilter.GaussianBlur(1))
    px = img.load()
    for _ in range(w * h // 4):
        x, y = rng.randrange(w), rng.randrange(h)
        px[x, y] = tuple(rng.randint(0, 255) for _ in range(3))
    if mode == "L":
        return img.convert("L")
    if mode == "RGBA":
        img = img.convert("RGBA")
        img.putalpha(Image.new("L", (w, h), 97))
    return img


def write_raw(img, path):
    """int32 width, height, channels (little endian), then the pixels."""
    n = {"L": 1, "RGB": 3, "RGBA": 4}[img.mode]
    with open(path, "wb") as f:
        f.write(struct.pack("<iii", img.width, img.height, n))
        f.write(img.tobytes())


def test_images(root, in_h, in_w, seed=9):
    """PNGs (and raw twins): gray, RGB, RGBA at the input size and others."""
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    sizes = [("RGB", in_w, in_h), ("L", in_w, in_h), ("RGBA", in_w, in_h), ("RGB", 3 * in_w + 5, 2 * in_h + 1),
             ("L", max(1, in_w // 2 + 1), 3 * in_h), ("RGBA", 97, 41), ("RGB", 1, 1)]
    pngs = []
    for k, (mode, w, h) in enumerate(sizes):
        img = blobs_image(mode, w, h, rng)
        base = os.path.join(root, "img%d_%s_%dx%d" % (k, mode, w, h))
        img.save(base + ".png")
        write_raw(img, base + ".raw")
        pngs.append(base + ".png")
    return pngs


def train_folder(root, classes, in_h, in_w, gray, per_class=4, seed=3):
    rng = random.Random(seed)
    if os.path.isdir(root):
        shutil.rmtree(root)
    for c in classes:
        os.makedirs(os.path.join(root, c))
        for i in range(per_class):
            img = blobs_image("L" if gray else "RGB", in_w + rng.randint(-3, 9), in_h + rng.randint(-3, 9), rng)
            img.save(os.path.join(root, c, "%02d.png" % i))


# ---- safetensors (for the refusal cases) ----------------------------------------

def st_read(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    return header, b[8 + n:]


def st_write(path, header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def st_tensors(header, data):
    """{name: (dtype, shape, bytes)}, without the metadata."""
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items() if k != "__metadata__"}


def st_build(meta, tensors):
    header, blobs, off = {}, [], 0
    if meta is not None:
        header["__metadata__"] = meta
    for k in sorted(tensors):
        dtype, shape, blob = tensors[k]
        header[k] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    return header, b"".join(blobs)


# ---- shared steps ---------------------------------------------------------------

def train(a, name, classes, gray):
    in_h, in_w, _ = model_input(a.cnn)
    data = os.path.join(a.work, "data")
    train_folder(data, classes, in_h, in_w, gray)
    run_dir = os.path.join(a.work, "run")
    run([a.trainer, "train", "--data", data, "--epochs", "1", "--validation-split", "0", "--out", run_dir,
         "--threads", "1", "--quiet"])
    return os.path.join(run_dir, "model.safetensors")


def export(a, weights, out):
    p = run([a.cnnc, "export", a.cnn, "--weights", weights, "-o", out])
    check(p.stdout == "", "export printed %r" % p.stdout)
    return p


def compile_variant(a, cc, variant, src, obj):
    flags = STRICT + (["-march=native"] if variant == "native" else ["-DCNN_PORTABLE_KERNELS"])
    if not shutil.which(cc):
        print("%s is not installed: %s/%s skipped" % (cc, cc, variant))
        return False
    run([cc] + flags + ["-c", src, "-o", obj])
    undefined = set(run(["nm", "-u", obj]).stdout.split()) - {"U"}
    check(undefined <= {"memcpy", "memset", "memmove"},
          "%s %s: nm -u lists %s" % (cc, variant, sorted(undefined)))
    return True


def compare(ours, theirs, classes_expected=None):
    check(len(ours) == len(theirs), "%d results against predict's %d" % (len(ours), len(theirs)))
    worst = 0.0
    for o, t in zip(ours, theirs):
        check(len(o["probabilities"]) == len(t["probabilities"]), "class counts differ: %s %s" % (o, t))
        d = max(abs(x - y) for x, y in zip(o["probabilities"], t["probabilities"]))
        worst = max(worst, d)
        check(d <= 1e-5, "%s: exported %s, predict %s (|diff| %.3g)" % (t["path"], o["probabilities"],
                                                                       t["probabilities"], d))
        top = max(o["probabilities"])
        if sorted(t["probabilities"])[-2] < top - 1e-5:  # a clear winner: the same class name
            check(o["class"] == t["class"], "%s: class %r, predict says %r" % (t["path"], o["class"], t["class"]))
    return worst


# ---- cases --------------------------------------------------------------------

def case_parity(a):
    name = model_name(a.cnn)
    in_h, in_w, in_c = model_input(a.cnn)
    classes = ["class %d" % k for k in range(a.classes)]
    if a.classes >= 3:
        classes[1] = "caf\u00e9 \"1\""  # escaped into a C string literal
    weights = train(a, name, classes, in_c == 1)
    out = os.path.join(a.work, "export")
    export(a, weights, out)
    src = os.path.join(out, name + "_infer.c")
    hdr = open(os.path.join(out, name + "_infer.h")).read()
    for want in ("%s_INPUT_HEIGHT = %d" % (name, in_h), "%s_INPUT_WIDTH = %d" % (name, in_w),
                 "%s_INPUT_CHANNELS = %d" % (name, in_c), "%s_CLASSES = %d" % (name, max(2, a.classes)),
                 "%s_WORK_BYTES" % name, "int %s_predict_tensor(void *work" % name):
        check(want in hdr, "%s_infer.h lacks %r" % (name, want))
    text = open(src).read()
    includes = re.findall(r"^\s*#\s*include\s*[<\"]([^>\"]+)", text, re.M)
    check(set(includes) <= {"float.h", "stddef.h", "stdint.h", "immintrin.h", name + "_infer.h"},
          "the exported file includes %s" % includes)
    text = open(src).read()
    for want in a.expect:  # "[COUNT:]TEXT": the kernels the case is meant to exercise
        count, sub = want.split(":", 1) if re.match(r"\d+:", want) else (None, want)
        if count is None:
            check(sub in text, "%s_infer.c lacks %r" % (name, sub))
        else:
            check(text.count(sub) == int(count), "%s_infer.c has %r %d times, expected %s"
                  % (name, sub, text.count(sub), count))
    pngs = test_images(os.path.join(a.work, "images"), in_h, in_w)
    theirs = [json.loads(l) for l in run([a.trainer, "predict", "--weights", weights, "--json"] + pngs,
                                         env=dict(os.environ, OMP_NUM_THREADS="1")).stdout.splitlines()]
    raws = [p[:-4] + ".raw" for p in pngs]
    # a JPEG, decoded in full by PIL (libjpeg-turbo, ISLOW, fancy upsampling): `predict --exact-resize`
    from PIL import Image
    jpg = os.path.join(a.work, "images", "photo.jpg")
    blobs_image("L" if in_c == 1 else "RGB", 3 * in_w + 7, 2 * in_h + 3, random.Random(4)).save(jpg, quality=90)
    decoded = Image.open(jpg)
    decoded.load()
    write_raw(decoded, jpg[:-4] + ".raw")
    theirs += [json.loads(l) for l in run([a.trainer, "predict", "--weights", weights, "--json", "--exact-resize",
                                           jpg], env=dict(os.environ, OMP_NUM_THREADS="1")).stdout.splitlines()]
    raws.append(jpg[:-4] + ".raw")
    for spec in a.compilers.split(","):
        cc, variant = spec.split("/")
        obj = os.path.join(a.work, "%s_%s_%s.o" % (name, cc, variant))
        if not compile_variant(a, cc, variant, src, obj):
            continue
        exe = os.path.join(a.work, "harness_%s_%s" % (cc, variant))
        run(["gcc", "-std=c99", "-O2", "-I", out, "-DMODEL=" + name, '-DMODEL_HEADER="%s_infer.h"' % name,
             a.harness, obj, "-o", exe])
        ours = [json.loads(l) for l in run([exe] + raws).stdout.splitlines()]
        for o, t in zip(ours, theirs):
            o["path"] = t["path"]
        worst = compare(ours, theirs)
        print("%s %s/%s: %d images, largest |difference| from predict %.3g" % (name, cc, variant, len(raws), worst))


def case_refuse(a):
    name = model_name(a.cnn)
    weights = train(a, name, ["a", "b", "c"], False)
    header, data = st_read(weights)
    meta = dict(header.get("__metadata__", {}))
    meta.pop("crc32", None)
    tensors = st_tensors(header, data)
    bad = os.path.join(a.work, "bad.safetensors")
    out = os.path.join(a.work, "refused")

    def refused(path, want, cnn=None):
        if os.path.isdir(out):
            shutil.rmtree(out)
        p = run([a.cnnc, "export", cnn or a.cnn, "--weights", path, "-o", out], expect=1)
        check(want in p.stderr, "expected %r in the message, got: %s" % (want, p.stderr))
        check("cnnc: error:" in p.stderr, p.stderr)
        check(not os.path.exists(out) or not os.listdir(out), "files written despite the refusal: %s" % out)

    def variant(meta_, tensors_):
        st_write(bad, *st_build(meta_, tensors_))
        return bad

    # another network's weights (the metadata names it; without metadata, its tensors)
    fruit = os.path.join(os.path.dirname(os.path.dirname(HERE)), "models", "fruit.cnn")
    refused(weights, "holds the weights of model '%s', not of 'fruit'" % name, cnn=fruit)
    m2 = {k: v for k, v in meta.items() if k != "model"}
    refused(variant(m2, tensors), "tensor 'conv2d_1.weight' has shape 6x3x3x3; model 'fruit' needs 16x3x3x3", cnn=fruit)
    t = dict(tensors)
    del t["dense_2.bias"]
    refused(variant(meta, t), "tensor 'dense_2.bias' (3) of model '%s' is missing" % name)
    t = dict(tensors)
    dt, shape, blob = t["dense_2.weight"]
    t["dense_2.weight"] = (dt, [shape[1], shape[0]], blob)
    refused(variant(meta, t), "tensor 'dense_2.weight' has shape %dx%d; model '%s' needs %dx%d"
            % (shape[1], shape[0], name, shape[0], shape[1]))
    t = dict(tensors)
    dt, shape, blob = t["dense_2.bias"]
    t["dense_2.bias"] = ("F16", shape, blob[:len(blob) // 2])
    refused(variant(meta, t), "tensor 'dense_2.bias' is F16; model '%s' needs F32" % name)
    t = dict(tensors)
    t["dense_9.weight"] = ("F32", [1], b"\0\0\0\0")
    refused(variant(meta, t), "tensor 'dense_9.weight' is not a tensor of model '%s'" % name)
    m2 = dict(meta, classes="a\nb")
    refused(variant(m2, tensors), "names 2 classes; model '%s' has 3" % name)
    corrupt = bytearray(open(weights, "rb").read())
    corrupt[-3] ^= 0x40
    with open(bad, "wb") as f:
        f.write(corrupt)
    refused(bad, "CRC")
    refused(os.path.join(a.work, "no-such.safetensors"), "no-such.safetensors")
    # the unmodified file is accepted (so the refusals above are about the changes)
    ok = os.path.join(a.work, "accepted")
    export(a, weights, ok)
    check(os.path.isfile(os.path.join(ok, name + "_infer.c")), "no %s_infer.c written" % name)
    p = run([a.cnnc, "export", a.cnn, "-o", ok], expect=1)
    check("needs the trained weights" in p.stderr, p.stderr)


def case_wasm(a):
    if not shutil.which("clang"):
        print("clang is not installed: skipped")
        return SKIP
    probe = os.path.join(a.work, "probe.c")
    with open(probe, "w") as f:
        f.write("int probe(int x) { return x + 1; }\n")
    wasm = ["clang", "--target=wasm32", "-ffreestanding", "-nostdlib", "-O2"]
    if subprocess.run(wasm + ["-c", probe, "-o", probe + ".o"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode != 0:
        print("clang has no wasm32 target: skipped")
        return SKIP
    name = model_name(a.cnn)
    weights = train(a, name, ["a", "b", "c"], False)
    out = os.path.join(a.work, "export")
    export(a, weights, out)
    obj = os.path.join(a.work, name + ".wasm.o")
    run(wasm + ["-Wall", "-Wextra", "-Werror", "-c", os.path.join(out, name + "_infer.c"), "-o", obj])
    nm = shutil.which("llvm-nm") or shutil.which("llvm-nm-14") or "/usr/lib/llvm-14/bin/llvm-nm"
    if os.path.exists(nm):
        undefined = set(run([nm, "-u", obj]).stdout.split()) - {"U"}
        check(undefined <= {"memcpy", "memset", "memmove", "__stack_pointer"},
              "wasm32 object needs %s" % sorted(undefined))
        defined = run([nm, obj]).stdout
        check(name + "_predict" in defined, "no %s_predict in the wasm32 object" % name)


def case_example(a):
    doc = open(a.doc).read()
    m = re.search(r"<!-- example: (\S+) -->\s*```c\n(.*?)```", doc, re.S)
    check(m, "%s has no example program block" % a.doc)
    prog = os.path.join(a.work, m.group(1))
    with open(prog, "w") as f:
        f.write(m.group(2))
    lines = m.group(2).count("\n")
    check(lines <= 45, "the example has %d lines" % lines)
    export_dir = os.path.join(a.work, "..", "parity_fruit", "export")
    obj = os.path.join(a.work, "..", "parity_fruit", "fruit_gcc_native.o")
    weights = os.path.join(a.work, "..", "parity_fruit", "run", "model.safetensors")
    if not os.path.isfile(obj):
        raise Failure("no fruit export from export_parity_fruit (%s)" % obj)
    exe = os.path.join(a.work, "classify")
    run(["gcc", "-O2", "-I", export_dir, prog, obj, "-lpng", "-o", exe])
    pngs = test_images(os.path.join(a.work, "images"), 128, 128, seed=21)
    p = run([exe] + pngs)
    theirs = [json.loads(l) for l in run([a.trainer, "predict", "--weights", weights, "--json"] + pngs).stdout.splitlines()]
    got = p.stdout.splitlines()
    check(len(got) == len(pngs), "the example printed %d lines for %d files:\n%s" % (len(got), len(pngs), p.stdout))
    for line, t in zip(got, theirs):
        path, cls, prob = line.split("\t")
        check(path == t["path"], "line %r for %s" % (line, t["path"]))
        k = t["probabilities"].index(max(t["probabilities"]))
        check(abs(float(prob) - t["probabilities"][k]) <= 1e-4, "%s: %s, predict %s" % (path, prob, t))
        check(cls == t["class"], "%s: class %s, predict %s" % (path, cls, t["class"]))
    print("example: %d files classified as `fruit predict` does" % len(pngs))


CASES = {"parity": case_parity, "refuse": case_refuse, "wasm": case_wasm, "example": case_example}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=sorted(CASES))
    ap.add_argument("--cnnc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--trainer")
    ap.add_argument("--cnn")
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--compilers", default="gcc/native,gcc/portable,clang/native")
    ap.add_argument("--harness", default=os.path.join(HERE, "harness.c"))
    ap.add_argument("--doc")
    ap.add_argument("--tag", help="work folder name (default: the case)")
    ap.add_argument("--expect", action="append", default=[],
                    help="parity: [COUNT:]TEXT, TEXT occurs COUNT times (without COUNT: at least once) "
                    "in the exported source")
    a = ap.parse_args()
    try:
        import PIL  # noqa: F401
    except ImportError:
        print("PIL is not available: skipped")
        return SKIP
    a.work = os.path.abspath(os.path.join(a.work, a.tag or a.case))
    os.makedirs(a.work, exist_ok=True)
    try:
        r = CASES[a.case](a)
    except Failure as e:
        print("FAIL %s: %s" % (a.case, e))
        return 1
    if r == SKIP:
        return SKIP
    print("%s: passed" % a.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
