"""Decode + resize parity: the data side's cached images against PIL's
decode and PyTorch's bilinear resize (align_corners=False, no antialias,
which is TensorFlow's half-pixel-centers convention that Keras uses).

  parity_resize.py DUMP_IMAGES DATA_DIR WORKDIR
Exit 77 when the data or torch is missing.
"""
import os
import subprocess
import sys

def main():
    tool, data, work = sys.argv[1:4]
    if not os.path.isdir(data):
        print("skipped: no", data)
        return 77
    try:
        import numpy as np
        import torch
        import torch.nn.functional as F
        from PIL import Image
    except ImportError as e:
        print("skipped:", e)
        return 77
    os.makedirs(work, exist_ok=True)
    failures = 0
    # (H, W, C, crop): upscaling (the photos are 64 px wide), a crop, gray
    for h, w, c, crop in [(128, 128, 3, 0), (48, 40, 3, 0), (96, 96, 3, 1), (64, 64, 1, 0)]:
        out = os.path.join(work, f"dump_{h}x{w}x{c}_{crop}")
        subprocess.run([tool, data, str(h), str(w), str(c), str(crop), out], check=True)
        ours = np.fromfile(out + ".bin", dtype=np.uint8)
        paths = open(out + ".txt").read().split("\n")[:-1]
        ours = ours.reshape(len(paths), h, w, c)
        worst, total, count = 0, 0.0, 0
        for i, p in enumerate(paths):
            im = Image.open(p)
            if c == 1 and im.format == "JPEG":
                # libjpeg's own grayscale output (the Y channel), as ours and
                # TensorFlow's decode_jpeg(channels=1)
                im.draft("L", im.size)
                a = np.asarray(im.convert("L")).astype(np.float32)[..., None]
            else:
                a = np.asarray(im.convert("RGB")).astype(np.float32)
                if c == 1:
                    a = np.floor(a[..., 0:1] * 0.299 + a[..., 1:2] * 0.587 + a[..., 2:3] * 0.114 + 0.5)
            ih, iw = a.shape[:2]
            if crop:
                ch = min(ih, max(int(iw * h / w), 1))
                cw = min(iw, max(int(ih * w / h), 1))
                y0, x0 = (ih - ch) // 2, (iw - cw) // 2
                a = a[y0:y0 + ch, x0:x0 + cw]
            t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]
            r = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)
            ref = np.clip(np.floor(r[0].permute(1, 2, 0).numpy() + 0.5), 0, 255)
            d = np.abs(ref - ours[i].astype(np.float32))
            worst = max(worst, d.max())
            total += d.sum()
            count += d.size
        mean = total / count
        # the same libjpeg decode and the same resize: only float rounding
        # ties may differ, by 1
        ok = worst <= 1 and mean < 0.05
        print(f"{h}x{w}x{c} crop={crop}: {len(paths)} images, max |diff| {worst:.0f}, mean {mean:.4f}",
              "ok" if ok else "FAIL")
        failures += not ok
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main())
