#!/usr/bin/python3
"""train_pytorch.py: train a .cnn network in PyTorch the way the cnnc trainer
trains it, for an accuracy comparison with the same network, data and epochs.

usage: scripts/train_pytorch.py FILE.cnn [--data PATH] [--validation PATH]
           [--validation-split F] [--split-csv RUN/split.csv] [--epochs N]
           [--batch N] [--seed N] [--threads N] [--exact-resize]
           [--resize cnnc|pil] [--augment cnnc|torchvision] [--rng cnnc|torch]
           [--out DIR] [--json] [--cnnc PATH | --twin FILE.py]

What is the same as `NAME train` (runtime/, docs/data.md, docs/trainer.md):
  network      the `cnnc --emit pytorch` twin of FILE.cnn (same layers, TF
               'same' padding, NHWC flatten, Keras batchnorm), initialised by
               its init_cnnc(seed): the C trainer's Glorot weights bit for bit;
  data         the same files and the same training/validation split: the
               trainer's split (stratified, cnn_rng stream SPLIT) reimplemented
               here, or read from a run folder's split.csv (--split-csv), which
               the trainer writes; the two are compared when both are there;
  preprocess   decode (PIL: the same libjpeg-turbo, ISLOW DCT, fancy
               upsampling), for large JPEGs the same DCT-domain downscaling
               (1/8, 1/4, 1/2 via PIL's draft(); --exact-resize turns it off
               as in the trainer), TensorFlow's bilinear resize without
               antialiasing (half-pixel centers = torch interpolate,
               align_corners=False), rounding to uint8 once (the trainer's
               cache), then `rescale` in float32 per batch;
  augmentation --augment cnnc (default): the trainer's Keras-layer semantics
               (flip, rotate, zoom, shear, translate composed into one affine
               map, one bilinear sampling with TensorFlow's fill rules;
               brightness, contrast), vectorised in torch;
  randomness   --rng cnnc (default): the batch order, the augmentation draws and
               the dropout masks are the trainer's own counter-based draws
               (runtime/include/cnn_rng.h), so both engines see the same batches of the
               same augmented images; --rng torch draws them from torch's
               generator seeded with the seed instead (same distributions);
  optimizer    Keras's update rules and defaults in float32 (Adam's epsilon
               hat, RMSprop's epsilon inside the root, Keras's SGD momentum), not
               torch.optim's;
  metrics      loss (mean over images) and accuracy: training figures
               accumulated over the epoch's batches in training mode, as Keras
               and the trainer report them; validation after every epoch in
               eval mode.
What differs: float summation order (PyTorch's oneDNN kernels vs the generated
C), so trajectories drift apart after the first steps; BCE is computed from
logits (the trainer: the same, clipped as Keras only in extreme cases).

Other choices for the "what a PyTorch user gets" comparison:
  --resize pil         PIL's bilinear resize (antialiased when downscaling:
                       what torchvision's Resize does on PIL images), full decode;
  --augment torchvision RandomHorizontalFlip/RandomVerticalFlip, RandomAffine
                       (degrees = 360 x rotate, scale = (1-zoom, 1+zoom),
                       translate, shear = 45 x shear; bilinear; fill 0, not
                       reflect: torchvision has no reflect fill), ColorJitter.

Prints a line per epoch; --out DIR writes history.csv (the trainer's columns)
and result.json there; --json prints the result as one JSON line at the end.
Runs itself again under jemalloc without decay and OpenBLAS with 1 thread
when they are installed (several-fold faster training on Debian's torch 1.13;
see docs/benchmarks.md), unless --no-env.
"""
import argparse
import csv
import gzip
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
M64 = (1 << 64) - 1
RNG_SPLIT, RNG_SHUFFLE, RNG_AUGMENT, RNG_DROPOUT = 2, 3, 4, 5


class Error(Exception):
    pass


# ---- the .cnn's settings ----------------------------------------------------------

def number(text):
    """'1/255' or '0.2' -> float."""
    if "/" in text:
        a, b = text.split("/", 1)
        return float(a) / float(b)
    return float(text)


def cnn_blocks(path):
    """{block name: statement text} of the preprocess, augment and train blocks
    (comments removed). scripts/compare_e2e.py uses it too."""
    with open(path) as f:
        text = re.sub(r"#[^\n]*", "", f.read())
    blocks = {}
    for name in ("preprocess", "augment", "train"):
        m = re.search(r"\b" + name + r"\s*\{([^}]*)\}", text)
        blocks[name] = m.group(1) if m else ""
    return blocks


AUGMENT_AMOUNTS = ("rotate", "zoom", "shear", "translate", "brightness", "contrast")


def augment_settings(aug):
    """flip, and each amount with its fill (default reflect), from an augment
    block's text. scripts/compare_e2e.py uses it too."""
    s = {"flip": ""}
    m = re.search(r"\bflip\s+(horizontal_and_vertical|horizontal|vertical)", aug)
    if m:
        s["flip"] = m.group(1)
    for k in AUGMENT_AMOUNTS:
        m = re.search(r"\b" + k + r"\s+([0-9.]+)(?:\s+fill\s*=\s*(reflect|nearest|constant))?", aug)
        s[k] = float(m.group(1)) if m else 0.0
        s[k + "_fill"] = (m.group(2) if m and m.group(2) else "reflect")
    return s


def cnn_settings(path):
    """The preprocess, augment and train settings of a .cnn file (what the
    twin module does not carry)."""
    blocks = cnn_blocks(path)
    s = {"crop": False, "rescale": None, "offset": 0.0, "flip": "", "data": None, "validation": None,
         "validation_split": None, "early_stopping": False}
    pre = blocks["preprocess"]
    s["crop"] = bool(re.search(r"\bcrop_to_aspect_ratio\b", pre))
    for step in ("grayscale", "edges", "brightness"):
        if re.search(r"\b" + step + r"\b", pre):
            raise Error(f"preprocess step '{step}' is not implemented in train_pytorch.py")
    m = re.search(r"\brescale\s+(-?[0-9.]+(?:/[0-9.]+)?)(?:\s+offset\s*=\s*(-?[0-9.eE+-]+))?", pre)
    if m:
        s["rescale"] = number(m.group(1))
        s["offset"] = float(m.group(2) or 0)
    s.update(augment_settings(blocks["augment"]))
    tr = blocks["train"]
    m = re.search(r"\bdata\s+\"([^\"]*)\"", tr)
    s["data"] = m.group(1) if m else None
    m = re.search(r"\bvalidation\s+\"([^\"]*)\"", tr)
    s["validation"] = m.group(1) if m else None
    m = re.search(r"\bvalidation_split\s+([0-9.]+)", tr)
    s["validation_split"] = float(m.group(1)) if m else None
    s["early_stopping"] = bool(re.search(r"\bearly_stopping\b", tr))
    return s


# ---- runtime/include/cnn_rng.h -------------------------------------------------------------

def mix(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def rng_uniform(np, seed, stream, a, b):
    """cnn_rng_uniform(seed, stream, a, b) for an int or a numpy array of b."""
    h = mix(mix((seed & M64) ^ mix(stream)) ^ (a & M64))
    b = np.asarray(b, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(h) ^ (b * np.uint64(0xD6E8FEB86659FD93))
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def fisher_yates(np, n, seed, stream, a):
    """The trainer's shuffle of 0..n-1 (split.c, loader.c)."""
    order = list(range(n))
    if n > 1:
        u = rng_uniform(np, seed, stream, a, np.arange(n))
        for p in range(n - 1, 0, -1):
            q = int(u[p] * (p + 1))
            order[p], order[q] = order[q], order[p]
    return order


# ---- data ---------------------------------------------------------------------------

def list_folder(root):
    """(class names, [(relative path, label)]) as runtime/data/folder.c lists a
    dataset folder: classes = sorted subfolders (by bytes, dot-names skipped),
    each walked recursively in name order."""
    rootb = os.fsencode(root)
    classes = sorted(e for e in os.listdir(rootb) if not e.startswith(b".") and os.path.isdir(os.path.join(rootb, e)))
    if len(classes) < 2:
        raise Error(f"{root}: needs at least 2 class folders")
    files = []

    def walk(rel, label, depth):
        for e in sorted(os.listdir(os.path.join(rootb, rel))):
            if e.startswith(b"."):
                continue
            r = os.path.join(rel, e)
            full = os.path.join(rootb, r)
            if os.path.isdir(full):
                if not os.path.islink(full) and depth < 32:
                    walk(r, label, depth + 1)
            else:
                files.append((os.fsdecode(r), label))

    for k, c in enumerate(classes):
        walk(c, k, 0)
    return [os.fsdecode(c) for c in classes], files


FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(np, path):
    """(classes, uint8 images N x H x W, labels) of an IDX images file."""
    def raw(p):
        with (gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb")) as f:
            return f.read()
    img = raw(path)
    lab = raw(path.replace("images-idx3", "labels-idx1"))
    n, h, w = (int.from_bytes(img[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    x = np.frombuffer(img, dtype=np.uint8, offset=16, count=n * h * w).reshape(n, h, w).copy()
    y = np.frombuffer(lab, dtype=np.uint8, offset=8, count=n).astype(np.int64)
    k = int(y.max()) + 1
    classes = FASHION[:k] if "fashion" in path.lower() and k <= 10 else [str(i) for i in range(k)]
    return classes, x, y


def crop_box(w, h, W, H, crop):
    """Keras's crop_to_aspect_ratio box (runtime cnn_crop_box): x0, y0, cw, ch."""
    if not crop:
        return 0, 0, w, h
    ch = min(h, max(int(w * H / W), 1))
    cw = min(w, max(int(h * W / H), 1))
    return (w - cw) // 2, (h - ch) // 2, cw, ch


def load_image(np, torch, F, Image, path, H, W, C, crop, mode):
    """One file to H x W x C uint8, as the trainer's first pass caches it
    (mode 'cnnc' or 'exact'), or with PIL's own resize (mode 'pil')."""
    im = Image.open(path)
    if im.format == "JPEG":
        # DCT-domain scaling as runtime/data/jpeg.c chooses it: the smallest M/8
        # (M = 1, 2, 4) whose output still covers the crop box at H x W (none
        # for --exact-resize or PIL's own resize). PIL's draft() picks its
        # scale from the size asked for: asking for floor(size * M/8) gives M/8.
        w0, h0 = im.size
        m = 8
        if mode == "cnnc":
            for m in (1, 2, 4, 8):
                _, _, cw, ch = crop_box(-(-w0 * m // 8), -(-h0 * m // 8), W, H, crop)
                if m == 8 or (cw >= W and ch >= H):
                    break
        want = (-(-w0 * m // 8), -(-h0 * m // 8))
        if m < 8 or (C == 1 and im.mode != "L"):
            # C == 1: libjpeg's own gray output (BT.601 luma), as the trainer
            im.draft("L" if C == 1 else im.mode, (max(w0 * m // 8, 1), max(h0 * m // 8, 1)))
            if im.size != want:
                raise Error(f"{path}: PIL decoded it at {im.size}, the trainer decodes it at {want}")
    if C == 1 and im.mode != "L":
        a = np.asarray(im.convert("RGB")).astype(np.float32)
        a = np.floor(a[..., 0:1] * 0.299 + a[..., 1:2] * 0.587 + a[..., 2:3] * 0.114 + 0.5)
        im = Image.fromarray(a[..., 0].astype(np.uint8), "L")
    elif C == 3:
        im = im.convert("RGB")
    w, h = im.size
    x0, y0, cw, ch = crop_box(w, h, W, H, crop)
    if mode == "pil":
        im = im.crop((x0, y0, x0 + cw, y0 + ch)).resize((W, H), Image.BILINEAR)
        a = np.asarray(im, dtype=np.uint8)
        return a.reshape(H, W, C)
    a = np.asarray(im).astype(np.float32).reshape(h, w, C)[y0:y0 + ch, x0:x0 + cw]
    if (ch, cw) != (H, W):
        t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]
        a = F.interpolate(t, size=(H, W), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
    return np.clip(np.floor(a + 0.5), 0, 255).astype(np.uint8)


def cnn_split(np, labels, n_classes, split, seed):
    """runtime/data/split.c: per class (files in order), a Fisher-Yates shuffle with
    draws (seed, SPLIT, class, position); the first round(split*n) (halves up,
    at least one training image kept) are validation. Returns (train, val)
    index lists in entry order."""
    tr, va = [], []
    for k in range(n_classes):
        members = [i for i, l in enumerate(labels) if l == k]
        n = len(members)
        nv = max(0, min(int(math.floor(split * n + 0.5)), n - 1))
        perm = fisher_yates(np, n, seed, RNG_SPLIT, k)
        shuffled = [members[j] for j in perm]
        va += shuffled[:nv]
        tr += shuffled[nv:]
    return sorted(tr), sorted(va)


class Subset:
    """uint8 images (N x H x W x C), labels, and the paths (relative, as in split.csv)."""

    def __init__(self, x, y, paths):
        self.x, self.y, self.paths = x, y, paths


def load_data(a, np, torch, F, s, H, W, C):
    """(classes, training Subset, validation Subset or None, notes)."""
    from PIL import Image
    notes = []
    mode = "pil" if a.resize == "pil" else ("exact" if a.exact_resize else "cnnc")

    def source(path):
        if os.path.isdir(path):
            classes, files = list_folder(path)
            xs, ys, ps = [], [], []
            for rel, label in files:
                try:
                    xs.append(load_image(np, torch, F, Image, os.path.join(path, rel), H, W, C, s["crop"], mode))
                except Error:
                    raise
                except Exception as e:  # a bad file: skipped, as the trainer does
                    notes.append(f"skipped {rel}: {e}")
                    continue
                ys.append(label)
                ps.append(rel)
            return classes, np.stack(xs), np.array(ys, dtype=np.int64), ps
        if not os.path.exists(path):
            raise Error(f"{path}: no such folder or file")
        classes, x, y = read_idx(np, path)
        if x.shape[1:] != (H, W) or C != 1:
            t = torch.from_numpy(x.astype(np.float32))[:, None]
            t = F.interpolate(t, size=(H, W), mode="bilinear", align_corners=False)
            x = np.clip(np.floor(t.permute(0, 2, 3, 1).numpy() + 0.5), 0, 255).astype(np.uint8)
            if C == 3:
                x = np.repeat(x, 3, axis=3)
        else:
            x = x[..., None]
        base = os.path.basename(path)
        return classes, x, y, [f"{base}#{i}" for i in range(len(y))]

    classes, x, y, paths = source(a.data)
    if a.validation:
        vc, vx, vy, vp = source(a.validation)
        if vc != classes:
            raise Error(f"the validation data {a.validation} has other classes than {a.data}")
        return classes, Subset(x, y, paths), Subset(vx, vy, vp), notes
    tr, va = cnn_split(np, y.tolist(), len(classes), a.validation_split, a.seed) if a.validation_split > 0 \
        else (list(range(len(y))), [])
    if a.split_csv:
        # the trainer's own lists (run folder split.csv): they win; say whether
        # the reimplementation above agrees
        index = {p: i for i, p in enumerate(paths)}
        lists = {"training": [], "validation": []}
        with open(a.split_csv, newline="") as f:
            for row in csv.DictReader(f):
                if row["path"] not in index:
                    raise Error(f"{a.split_csv}: {row['path']} is not among the readable files of {a.data}")
                i = index[row["path"]]
                if int(row["label"]) != int(y[i]):
                    raise Error(f"{a.split_csv}: {row['path']} has label {row['label']} there, {y[i]} here")
                lists[row["subset"]].append(i)
        same = lists["training"] == tr and lists["validation"] == va
        notes.append(f"split: {a.split_csv} ({len(lists['training'])} training, {len(lists['validation'])} "
                     f"validation); the reimplemented split is {'identical' if same else 'DIFFERENT'}")
        tr, va = lists["training"], lists["validation"]
    else:
        notes.append(f"split: reimplemented runtime/data/split.c (validation_split {a.validation_split}, seed {a.seed})")
    val = Subset(x[va], y[va], [paths[i] for i in va]) if va else None
    return classes, Subset(x[tr], y[tr], [paths[i] for i in tr]), val, notes


# ---- augmentation ----------------------------------------------------------------------

class CnncAugment:
    """runtime/data/augment.c in torch, for a batch of NHWC float images."""

    def __init__(self, np, torch, s, H, W, lo, hi):
        self.np, self.torch, self.s, self.H, self.W, self.lo, self.hi = np, torch, s, H, W, lo, hi
        self.geometric = s["rotate"] > 0 or s["zoom"] > 0 or s["shear"] > 0 or s["translate"] > 0
        for k in ("rotate", "zoom", "shear", "translate"):
            if s[k] > 0:
                self.fill = s[k + "_fill"]
                break
        self.active = bool(s["flip"]) or self.geometric or s["brightness"] > 0 or s["contrast"] > 0

    def draws(self, seed, epoch, idx, gen):
        """The parameters of images idx (numpy int array) in this epoch:
        the trainer's keyed draws, or torch's generator (gen not None)."""
        np, s = self.np, self.s
        n = len(idx)

        def u(k):
            if gen is not None:
                return self.torch.rand(n, generator=gen, dtype=self.torch.float64).numpy()
            return rng_uniform(np, seed, RNG_AUGMENT, epoch, idx.astype(np.uint64) * np.uint64(16) + np.uint64(k))

        p = {"flip_h": np.zeros(n, bool), "flip_v": np.zeros(n, bool), "angle": np.zeros(n), "zoom": np.ones(n),
             "shear": np.zeros(n), "dx": np.zeros(n), "dy": np.zeros(n), "bright": np.zeros(n),
             "contrast": np.ones(n)}
        if s["flip"] in ("horizontal", "horizontal_and_vertical"):
            p["flip_h"] = u(0) < 0.5
        if s["flip"] in ("vertical", "horizontal_and_vertical"):
            p["flip_v"] = u(1) < 0.5
        if s["rotate"] > 0:
            p["angle"] = (2 * u(2) - 1) * s["rotate"] * 2.0 * math.pi
        if s["zoom"] > 0:
            p["zoom"] = 1.0 + (2 * u(3) - 1) * s["zoom"]
        if s["shear"] > 0:
            p["shear"] = (2 * u(4) - 1) * s["shear"]
        if s["translate"] > 0:
            p["dx"] = (2 * u(5) - 1) * s["translate"] * self.W
            p["dy"] = (2 * u(6) - 1) * s["translate"] * self.H
        if s["brightness"] > 0:
            p["bright"] = (2 * u(7) - 1) * s["brightness"] * (self.hi - self.lo)
        if s["contrast"] > 0:
            p["contrast"] = 1.0 + (2 * u(8) - 1) * s["contrast"]
        return p

    def matrices(self, p):
        """Per image, the output -> source map flip(rotate(zoom(shear(translate)))) as n x 6 (float64)."""
        np = self.np
        n = len(p["angle"])
        Wm, Hm = self.W - 1.0, self.H - 1.0

        def mat(a0, a1, a2, a3, a4, a5):
            m = np.zeros((n, 3, 3))
            for i, v in enumerate((a0, a1, a2, a3, a4, a5)):
                m[:, i // 3, i % 3] = v
            m[:, 2, 2] = 1
            return m
        fh, fv = p["flip_h"], p["flip_v"]
        flip = mat(np.where(fh, -1.0, 1.0), 0, np.where(fh, Wm, 0.0), 0, np.where(fv, -1.0, 1.0), np.where(fv, Hm, 0.0))
        c, s = np.cos(p["angle"]), np.sin(p["angle"])
        rot = mat(c, -s, (Wm - (c * Wm - s * Hm)) / 2, s, c, (Hm - (s * Wm + c * Hm)) / 2)
        z = p["zoom"]
        zoom = mat(z, 0, Wm / 2 * (1 - z), 0, z, Hm / 2 * (1 - z))
        shear = mat(1, p["shear"], 0, 0, 1, 0)
        move = mat(1, 0, -p["dx"], 0, 1, -p["dy"])
        t = flip @ rot @ zoom @ shear @ move
        return t[:, :2, :].reshape(n, 6)

    def map_coord(self, v, size):
        """TensorFlow's fill-mode coordinate map (float32 tensors)."""
        torch = self.torch
        if self.fill == "nearest":
            return v.clamp(0, size - 1)
        if self.fill == "constant" or size <= 1:
            return v if self.fill == "constant" else torch.zeros_like(v)
        sz2 = 2.0 * size
        neg = v < 0
        vn = sz2 * torch.trunc(-v / sz2) + v
        vn = torch.where(vn < -size, vn + sz2, -vn - 1)
        over = v > size - 1
        vo = v - sz2 * torch.trunc(v / sz2)
        vo = torch.where(vo >= size, sz2 - vo - 1, vo)
        v = torch.where(neg, vn, torch.where(over, vo, v))
        return v.clamp(0, size - 1)

    def __call__(self, x, p):
        """x: n x H x W x C float32 (a fresh batch, modified in place or replaced)."""
        torch, np = self.torch, self.np
        n, H, W, C = x.shape
        if self.geometric:
            m = torch.from_numpy(self.matrices(p))  # float64, as the C code
            xs = torch.arange(W, dtype=torch.float64).view(1, 1, W)
            ys = torch.arange(H, dtype=torch.float64).view(1, H, 1)
            sx = (m[:, 0].view(n, 1, 1) * xs + (m[:, 1].view(n, 1, 1) * ys + m[:, 2].view(n, 1, 1))).float()
            sy = (m[:, 3].view(n, 1, 1) * xs + (m[:, 4].view(n, 1, 1) * ys + m[:, 5].view(n, 1, 1))).float()
            sx, sy = self.map_coord(sx, W), self.map_coord(sy, H)
            # bilinear taps of the mapped point, a tap outside the image reading
            # 0: grid_sample with zero padding (align_corners: -1 and 1 are the
            # centers of the first and last pixels)
            grid = torch.stack((sx * (2.0 / max(W - 1, 1)) - 1.0, sy * (2.0 / max(H - 1, 1)) - 1.0), dim=-1)
            x = torch.nn.functional.grid_sample(x.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode="zeros",
                                                align_corners=True).permute(0, 2, 3, 1)
        else:
            fh = torch.from_numpy(np.asarray(p["flip_h"]))
            fv = torch.from_numpy(np.asarray(p["flip_v"]))
            if bool(fh.any()):
                x[fh] = x[fh].flip(2)
            if bool(fv.any()):
                x[fv] = x[fv].flip(1)
        lo, hi = float(np.float32(self.lo)), float(np.float32(self.hi))
        if self.s["brightness"] > 0:
            d = torch.from_numpy(p["bright"].astype(np.float32)).view(n, 1, 1, 1)
            x = (x + d).clamp(lo, hi)
        if self.s["contrast"] > 0:
            mean = x.double().mean(dim=(1, 2), keepdim=True).float()
            f = torch.from_numpy(p["contrast"].astype(np.float32)).view(n, 1, 1, 1)
            x = ((x - mean) * f + mean).clamp(lo, hi)
        return x


def torchvision_augmentations(T, s):
    """The .cnn's augment block as the torchvision transforms a PyTorch user
    would write (T is torchvision.transforms; s has the keys flip, rotate,
    zoom, translate, shear, brightness, contrast). scripts/compare_e2e.py
    uses it too."""
    t = []
    if s["flip"] in ("horizontal", "horizontal_and_vertical"):
        t.append(T.RandomHorizontalFlip())
    if s["flip"] in ("vertical", "horizontal_and_vertical"):
        t.append(T.RandomVerticalFlip())
    if s["rotate"] or s["zoom"] or s["translate"] or s["shear"]:
        t.append(T.RandomAffine(degrees=360 * s["rotate"],
                                translate=(s["translate"], s["translate"]) if s["translate"] else None,
                                scale=(1 - s["zoom"], 1 + s["zoom"]) if s["zoom"] else None,
                                shear=45 * s["shear"] if s["shear"] else None,
                                interpolation=T.InterpolationMode.BILINEAR))
    if s["brightness"] or s["contrast"]:
        t.append(T.ColorJitter(brightness=s["brightness"], contrast=s["contrast"]))
    return t


class TorchvisionAugment:
    """What a PyTorch user would write: torchvision transforms per image
    (NCHW tensors), with torch's random generator."""

    def __init__(self, torch, s, lo, hi):
        import torchvision.transforms as T
        t = torchvision_augmentations(T, s)
        self.t = T.Compose(t)
        self.active = bool(t)
        self.torch = torch

    def __call__(self, x, p):
        x = x.permute(0, 3, 1, 2)
        return self.torch.stack([self.t(img) for img in x]).permute(0, 2, 3, 1)


# ---- Keras's optimizers -----------------------------------------------------------

class KerasOptimizer:
    """Keras 3 update rules in float32, as runtime/train/optim.c (and
    tests/parity/torch_parity.py):
    Adam:    m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
             p -= lr sqrt(1 - b2^t)/(1 - b1^t) * m / (sqrt(v) + eps)
    SGD:     v = mu v - lr g; p += v  (Nesterov: p += mu v - lr g); p -= lr g without momentum
    RMSprop: v = rho v + (1 - rho) g^2; p -= lr g / sqrt(v + eps)
    AdamW:   Adam's rule; weight_decay (any optimizer): p -= p * lr * weight_decay after
             the clipping (clipnorm per tensor, clipvalue per element, global_clipnorm over
             all the gradients together), before the rule"""

    def __init__(self, torch, params, cfg):
        self.torch = torch
        self.params = list(params)
        self.c = dict(cfg)
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def step(self):
        torch, c = self.torch, self.c
        self.t += 1
        f32 = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731  (the C code's float scalars)
        with torch.no_grad():
            scale = None  # global_clipnorm: one factor for every gradient
            if c.get("global_clipnorm", 0) > 0:
                norm = math.sqrt(sum(float((p.grad.double() * p.grad.double()).sum())
                                     for p in self.params if p.grad is not None))
                if norm > c["global_clipnorm"]:
                    scale = f32(c["global_clipnorm"] / norm)
            for p, m, v in zip(self.params, self.m, self.v):
                g = p.grad
                if g is None:
                    continue
                # Keras 3's order: clip (clipnorm per tensor, clipvalue per element, or
                # global_clipnorm), decay, rule
                if scale is not None:
                    g = g * scale
                elif c.get("clipnorm", 0) > 0:
                    norm = math.sqrt(float((g.double() * g.double()).sum()))
                    if norm > c["clipnorm"]:
                        g = g * f32(c["clipnorm"] / norm)
                elif c.get("clipvalue", 0) > 0:
                    g = g.clamp(-c["clipvalue"], c["clipvalue"])
                if c.get("weight_decay", 0) > 0:
                    p.sub_(p * f32(c["lr"] * c["weight_decay"]))
                if c["kind"] in ("adam", "adamw"):
                    alpha = f32(c["lr"] * math.sqrt(1.0 - c["beta2"] ** self.t) / (1.0 - c["beta1"] ** self.t))
                    m.add_((g - m) * f32(1.0 - c["beta1"]))
                    v.add_((g * g - v) * f32(1.0 - c["beta2"]))
                    p.sub_((m * alpha) / (torch.sqrt(v) + f32(c["epsilon"])))
                elif c["kind"] == "sgd":
                    lr = f32(c["lr"])
                    mu = c.get("momentum", 0.0)
                    if mu == 0.0:
                        p.sub_(lr * g)
                    else:
                        m.copy_(f32(mu) * m - lr * g)
                        p.add_(f32(mu) * m - lr * g if c.get("nesterov") else m)
                elif c["kind"] == "rmsprop":
                    lr = f32(c["lr"])
                    v.copy_(f32(c["rho"]) * v + f32(1.0 - c["rho"]) * g * g)
                    p.sub_(lr * g / torch.sqrt(v + f32(c["epsilon"])))
                else:
                    raise Error(f"optimizer {c['kind']}")


# ---- training ------------------------------------------------------------------------

def keyed_dropout_class(torch, np):
    class KeyedDropout(torch.nn.Module):
        """Inverted dropout with the trainer's masks: element e (NHWC order) of
        image i of layer L at optimizer step t is kept when
        cnn_rng_uniform(seed, DROPOUT, t*64 + L, i*size + e) >= rate."""

        def __init__(self, rate, layer, seed):
            super().__init__()
            self.rate = float(np.float32(rate))
            self.layer, self.seed, self.step = layer, seed, 0

        def forward(self, x):
            if not self.training or self.rate == 0.0:
                return x
            nhwc = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
            u = rng_uniform(np, self.seed, RNG_DROPOUT, self.step * 64 + self.layer, np.arange(nhwc.numel()))
            mask = torch.from_numpy(u >= self.rate).reshape(nhwc.shape).to(x.dtype) * (1.0 / (1.0 - self.rate))
            if x.dim() == 4:
                mask = mask.permute(0, 3, 1, 2)
            return x * mask
    return KeyedDropout


def train(a, twin, s):
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    H, W, C = twin.INPUT_SHAPE
    t_load = time.perf_counter()
    classes, tr, va, notes = load_data(a, np, torch, F, s, H, W, C)
    t_load = time.perf_counter() - t_load
    for line in notes:
        print(line)
    print(f"{len(tr.y)} training, {len(va.y) if va else 0} validation images, {len(classes)} classes, "
          f"{H}x{W}x{C}; read in {t_load:.1f} s")
    if twin.N_OUTPUTS == 1 and len(classes) != 2:
        raise Error(f"a one-unit sigmoid model needs 2 classes, the data has {len(classes)}")

    scale = np.float32(s["rescale"]) if s["rescale"] is not None else None
    offset = np.float32(s["offset"])
    lo, hi = (0.0, 255.0) if scale is None else sorted((0.0 * float(scale) + float(offset), 255.0 * float(scale) + float(offset)))
    if a.augment == "cnnc":
        aug = CnncAugment(np, torch, s, H, W, lo, hi)
    else:
        aug = TorchvisionAugment(torch, s, lo, hi)
    gen = torch.Generator().manual_seed(a.seed) if a.rng == "torch" else None
    torch.manual_seed(a.seed)  # torchvision's transforms and nn.Dropout draw from it

    model = twin.init_cnnc(twin.Net(), a.seed)
    dropouts = []
    if a.rng == "cnnc":
        KeyedDropout = keyed_dropout_class(torch, np)
        for i, name in enumerate(twin.LAYERS):
            layer = getattr(model, name, None)
            if isinstance(layer, torch.nn.Dropout):
                setattr(model, name, KeyedDropout(layer.p, i, a.seed))
                dropouts.append(getattr(model, name))
    model = model.to(memory_format=torch.channels_last)
    for name in ("LR_SCHEDULE", "CLASS_WEIGHT"):
        if hasattr(twin, name):
            raise Error(f"the train block's {name.lower()} is not reproduced by this script")
    opt = KerasOptimizer(torch, model.parameters(), twin.OPTIMIZER)

    xtr = torch.from_numpy(tr.x)
    ytr = torch.from_numpy(tr.y)

    def to_float(u8):
        x = u8.float()
        if scale is not None:
            x = x * torch.tensor(scale) + torch.tensor(offset)
        return x

    def batch_stats(logits, y):
        """(summed loss, right answers) of a batch."""
        loss = twin.loss(logits, y)
        pred = (logits[:, 0] > 0).long() if twin.N_OUTPUTS == 1 else logits.argmax(1)
        return loss, int((pred == y).sum())

    def evaluate():
        model.eval()
        total, right = 0.0, 0
        with torch.inference_mode():
            for b0 in range(0, len(va.y), a.batch):
                x = to_float(torch.from_numpy(va.x[b0:b0 + a.batch]))
                y = torch.from_numpy(va.y[b0:b0 + a.batch])
                loss, r = batch_stats(model(x.permute(0, 3, 1, 2)), y)
                total += float(loss) * len(y)
                right += r
        return total / len(va.y), right / len(va.y)

    cols = ["epoch", "loss", "accuracy"] + (["val_loss", "val_accuracy"] if va else [])
    history, step = [], 0
    n = len(tr.y)
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        te = time.perf_counter()
        if a.rng == "cnnc":
            order = fisher_yates(np, n, a.seed, RNG_SHUFFLE, epoch)
        else:
            order = torch.randperm(n, generator=gen).tolist()
        order = np.array(order, dtype=np.int64)
        model.train()
        total, right = 0.0, 0
        for b0 in range(0, n, a.batch):
            idx = order[b0:b0 + a.batch]
            x = to_float(xtr[torch.from_numpy(idx)])
            if aug.active:
                x = aug(x, aug.draws(a.seed, epoch, idx, gen) if a.augment == "cnnc" else None)
            y = ytr[torch.from_numpy(idx)]
            for d in dropouts:
                d.step = step
            for p in model.parameters():
                p.grad = None
            logits = model(x.permute(0, 3, 1, 2))
            loss, r = batch_stats(logits, y)
            if not math.isfinite(float(loss)):
                raise Error(f"the loss is {float(loss)} at epoch {epoch + 1}, step {step}")
            loss.backward()
            opt.step()
            step += 1
            total += float(loss) * len(y)
            right += r
        row = {"epoch": epoch + 1, "loss": total / n, "accuracy": right / n}
        if va:
            row["val_loss"], row["val_accuracy"] = evaluate()
        row["seconds"] = time.perf_counter() - te
        history.append(row)
        print(f"Epoch {epoch + 1}/{a.epochs} - {row['seconds']:.1f}s - loss: {row['loss']:.4f} - accuracy: "
              f"{row['accuracy']:.4f}" + (f" - val_loss: {row['val_loss']:.4f} - val_accuracy: "
                                          f"{row['val_accuracy']:.4f}" if va else ""), flush=True)
    seconds = time.perf_counter() - t0
    last = history[-1] if history else {}
    result = {"engine": f"pytorch {torch.__version__}", "model": twin.MODEL_NAME, "data": a.data,
              "validation": a.validation, "split_csv": a.split_csv, "epochs": a.epochs, "batch": a.batch,
              "seed": a.seed, "threads": a.threads, "resize": a.resize, "exact_resize": a.exact_resize,
              "augment": a.augment, "rng": a.rng, "optimizer": twin.OPTIMIZER, "train_images": n,
              "val_images": len(va.y) if va else 0, "seconds": seconds, "load_seconds": t_load,
              "val_accuracy": last.get("val_accuracy"), "val_loss": last.get("val_loss"),
              "best_val_accuracy": max((r["val_accuracy"] for r in history), default=None) if va else None,
              "history": history, "notes": notes}
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "history.csv"), "w") as f:
            f.write(",".join(cols) + "\n")
            for r in history:
                f.write(",".join(str(r[c]) if c == "epoch" else f"{r[c]:.9g}" for c in cols) + "\n")
        with open(os.path.join(a.out, "result.json"), "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    if va:
        print(f"Validation ({len(va.y)} images): loss {last['val_loss']:.4f}, accuracy {last['val_accuracy']:.4f}"
              f"; {seconds:.1f} s of training")
    if a.json:
        print(json.dumps(result))
    return 0


# ---- driver ----------------------------------------------------------------------------

def find_cnnc(a):
    if a.cnnc:
        return a.cnnc
    for d in ("build", "build-accuracy", "build-trainer", "build-lead"):
        p = os.path.join(ROOT, d, "compiler", "cnnc")
        if os.access(p, os.X_OK):
            return p
    p = shutil.which("cnnc")
    if p:
        return p
    raise Error("cnnc not found: build it (cmake --build build) or pass --cnnc PATH or --twin FILE.py")


def reexec_env(a, argv):
    """Re-runs this script under jemalloc (no decay) and OpenBLAS with one
    thread when both are installed and not set up yet."""
    if a.no_env or os.environ.get("CNNC_TRAIN_PYTORCH_ENV") or not os.path.exists(JEMALLOC):
        return None
    env = dict(os.environ, CNNC_TRAIN_PYTORCH_ENV="1", LD_PRELOAD=JEMALLOC, MALLOC_CONF=JEMALLOC_CONF,
               OMP_NUM_THREADS=str(a.threads))
    if os.path.isdir(OPENBLAS_DIR):
        env.update(LD_LIBRARY_PATH=OPENBLAS_DIR, OPENBLAS_NUM_THREADS="1")
    return subprocess.call([sys.executable, os.path.abspath(__file__)] + argv, env=env)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(prog="train_pytorch.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cnn", help="the .cnn file")
    ap.add_argument("--data", help="(default: the train block's)")
    ap.add_argument("--validation", help="a separate validation folder / IDX file (default: the train block's)")
    ap.add_argument("--validation-split", type=float)
    ap.add_argument("--split-csv", help="the trainer's split.csv (from its run folder): train on exactly its lists")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--exact-resize", action="store_true", help="no JPEG DCT scaling (the trainer's --exact-resize)")
    ap.add_argument("--resize", choices=("cnnc", "pil"), default="cnnc")
    ap.add_argument("--augment", choices=("cnnc", "torchvision"), default="cnnc")
    ap.add_argument("--rng", choices=("cnnc", "torch"), default="cnnc")
    ap.add_argument("--out", help="write history.csv and result.json here")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line at the end")
    ap.add_argument("--cnnc", help="the cnnc compiler (default: build*/compiler/cnnc)")
    ap.add_argument("--twin", help="an existing `cnnc --emit pytorch` module for FILE.cnn")
    ap.add_argument("--no-env", action="store_true", help="do not re-run under jemalloc/OpenBLAS")
    ap.add_argument("--skip-missing", action="store_true",
                    help="exit 77 (CTest's skip) when the data or torch/numpy/PIL is missing")
    a = ap.parse_args(argv)
    try:
        import numpy  # noqa: F401
        import PIL  # noqa: F401
        import torch  # noqa: F401
        if a.augment == "torchvision":
            import torchvision  # noqa: F401
    except ImportError as e:
        print(f"train_pytorch: {'skipped: ' if a.skip_missing else ''}{e} (apt-get install python3-torch "
              "python3-torchvision python3-numpy python3-pil)", file=sys.stderr)
        return 77 if a.skip_missing else 1
    try:
        s = cnn_settings(a.cnn)
        a.data = a.data or s["data"]
        if a.validation is None and a.validation_split is None:
            a.validation = s["validation"]
        if a.validation_split is None:
            a.validation_split = 0.0 if a.validation else (s["validation_split"] if s["validation_split"] is not None
                                                          else 0.2)
        if not a.data:
            raise Error("no data: give --data or set it in the train block")
        for p in (a.data, a.validation):
            if p and not os.path.exists(p):
                if a.skip_missing:
                    print(f"train_pytorch: skipped: {p} is missing")
                    return 77
                raise Error(f"{p}: no such folder or file")
        if s["early_stopping"]:
            print("train_pytorch: note: early_stopping is not reproduced here; all epochs are trained")
        rc = reexec_env(a, argv)
        if rc is not None:
            return rc
        work = tempfile.mkdtemp(prefix="cnnc-torch-")
        try:
            twin_path = a.twin
            if not twin_path:
                twin_path = os.path.join(work, "twin.py")
                subprocess.run([find_cnnc(a), "--emit", "pytorch", a.cnn, "-o", twin_path], check=True)
            import importlib.util
            spec = importlib.util.spec_from_file_location("cnn_twin", twin_path)
            twin = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(twin)
            a.epochs = a.epochs if a.epochs is not None else twin.EPOCHS
            a.batch = a.batch if a.batch is not None else twin.BATCH
            a.seed = a.seed if a.seed is not None else twin.SEED
            print(f"PyTorch {__import__('torch').__version__}: {twin.MODEL_NAME} on {a.data}"
                  f"{' + ' + a.validation if a.validation else ''}: {a.epochs} epochs, batch {a.batch}, seed {a.seed}, "
                  f"{a.threads} threads, {twin.OPTIMIZER['kind']} (Keras rules) lr={twin.OPTIMIZER['lr']}, "
                  f"resize {a.resize}{' exact' if a.exact_resize else ''}, augment {a.augment}, rng {a.rng}",
                  flush=True)
            return train(a, twin, s)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except (Error, subprocess.CalledProcessError) as e:
        print(f"train_pytorch: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
