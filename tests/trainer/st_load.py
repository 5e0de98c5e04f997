"""Reads a safetensors file by hand (the format: an 8-byte little-endian
header length, a JSON header, raw little-endian data), without the
safetensors package, into torch tensors. Also checks cnnc's crc32 entry.

    python3 st_load.py FILE              prints the tensors and metadata
    python3 st_load.py --tiny FILE       checks the layouts written by test_checkpoint
"""
import json
import struct
import sys
import zlib

DTYPES = {"F32": ("<f4", 4), "F64": ("<f8", 8), "I64": ("<i8", 8), "I32": ("<i4", 4)}


def load(path, check_crc=True, meta_only=False):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    if check_crc and "crc32" in meta:
        # The CRC covers the whole file with its own value replaced by zeros.
        at = raw.index(b'"crc32":"') + len('"crc32":"')
        zeroed = raw[:at] + b"00000000" + raw[at + 8:]
        crc = "%08x" % (zlib.crc32(zeroed) & 0xFFFFFFFF)
        if crc != meta["crc32"]:
            raise ValueError("%s: CRC mismatch (%s vs %s)" % (path, crc, meta["crc32"]))
    if meta_only:
        return meta, header
    import numpy as np
    import torch

    tensors = {}
    for name, t in header.items():
        dt, size = DTYPES[t["dtype"]]
        b, e = t["data_offsets"]
        arr = np.frombuffer(data[b:e], dtype=dt).reshape(t["shape"]).copy()
        tensors[name] = torch.from_numpy(arr)
    return meta, tensors


def main():
    if sys.argv[1] == "--tiny":
        meta, t = load(sys.argv[2])
        w = t["conv2d_1.weight"]
        assert tuple(w.shape) == (3, 2, 2, 2), w.shape
        for o in range(3):
            for i in range(2):
                for h in range(2):
                    for x in range(2):
                        want = ((h * 2 + x) * 2 + i) * 3 + o + 0.25
                        assert float(w[o, i, h, x]) == want, (o, i, h, x, float(w[o, i, h, x]), want)
        d = t["dense_1.weight"]
        assert tuple(d.shape) == (4, 5)
        for o in range(4):
            for i in range(5):
                assert float(d[o, i]) == 27 + i * 4 + o + 0.25
        assert meta["classes"] == 'a\nb"c', meta
        print("safetensors file read by hand into torch: layouts OK")
        return
    meta, t = load(sys.argv[1])
    for k, v in meta.items():
        print("meta %s = %r" % (k, v[:60]))
    for k, v in t.items():
        print(k, tuple(v.shape), v.dtype)


if __name__ == "__main__":
    main()
