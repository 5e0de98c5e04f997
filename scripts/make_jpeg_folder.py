#!/usr/bin/python3
"""make_jpeg_folder.py: a folder of larger JPEGs for end-to-end timings.

usage: make_jpeg_folder.py SRC DST [--size 400] [--quality 90]

Copies the class folders of SRC (e.g. ../shared/data/fruits-dev: 900 JPEGs,
64 px wide) into DST, every image resized to SIZE x SIZE with bicubic
interpolation and saved as baseline JPEG (4:2:0, the given quality), so
decoding costs what a folder of ordinary photos costs. Files directly in SRC
(README, manifest) are not copied. DST must not exist yet (or be empty)."""
import argparse
import os
import sys

from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--size", type=int, default=400)
    ap.add_argument("--quality", type=int, default=90)
    a = ap.parse_args()
    if os.path.isdir(a.dst) and os.listdir(a.dst):
        print(f"make_jpeg_folder: {a.dst} exists and is not empty", file=sys.stderr)
        return 1
    n = 0
    for cls in sorted(os.listdir(a.src)):
        sdir = os.path.join(a.src, cls)
        if cls.startswith(".") or not os.path.isdir(sdir):
            continue
        os.makedirs(os.path.join(a.dst, cls), exist_ok=True)
        for name in sorted(os.listdir(sdir)):
            if name.startswith("."):
                continue
            with Image.open(os.path.join(sdir, name)) as im:
                im = im.convert("RGB").resize((a.size, a.size), Image.BICUBIC)
                out = os.path.join(a.dst, cls, os.path.splitext(name)[0] + ".jpg")
                im.save(out, "JPEG", quality=a.quality)
            n += 1
    print(f"make_jpeg_folder: {n} images of {a.size}x{a.size} in {a.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
