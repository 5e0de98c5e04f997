"""Synthetic class folders for the data-parallel tests, written with the
standard library alone (zlib PNGs): three kinds of pattern with noise."""
import os
import random
import struct
import zlib


def png(path, w, h, rgb):
    """rgb: bytes of h rows of w RGB pixels."""
    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + rgb[y * w * 3:(y + 1) * w * 3] for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pattern(kind, size, rng):
    px = bytearray()
    period = rng.choice((2, 3, 4))
    for y in range(size):
        for x in range(size):
            on = {"horizontal": (y // period) % 2, "vertical": (x // period) % 2,
                  "checker": ((x // period) + (y // period)) % 2}[kind]
            v = (200 if on else 40) + rng.randint(-30, 30)
            px += bytes((v, max(0, min(255, v + rng.randint(-20, 20))), 255 - v))
    return bytes(px)


def make(root, per_class, size=16, seed=1):
    rng = random.Random(seed)
    for kind in ("horizontal", "vertical", "checker"):
        os.makedirs(os.path.join(root, kind), exist_ok=True)
        for i in range(per_class):
            png(os.path.join(root, kind, "%03d.png" % i), size, size, pattern(kind, size, rng))


if __name__ == "__main__":
    import sys
    make(sys.argv[1], int(sys.argv[2]))
