"""The trainer's decoupled weight decay and gradient clipping over 10 steps
(test_adamw_clip's cases) against (1) Keras 3's rules transcribed in double
(BaseOptimizer: clip each variable's gradient by norm, or every element by
value, or all gradients by their global norm; then variable -= variable *
weight_decay * lr; then the rule, Adam's with Keras's epsilon) and (2)
PyTorch's torch.optim.AdamW with torch.nn.utils.clip_grad_norm_ (per tensor
for clipnorm, over all the parameters for global_clipnorm) or
clip_grad_value_, whose epsilon sits elsewhere (the AdamW cases use epsilon
1e-10, so that it matters less than float rounding).

    adamw_clip_ref.py TEST_ADAMW_CLIP_BINARY
Exit 0 on success, 1 on a difference, 77 without torch.
"""
import json
import math
import struct
import subprocess
import sys


def as_float32(x):
    """The float32 that x (printed with 9 digits) stands for."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def global_norm(c, g):
    return math.sqrt(sum(x * x for off, cnt in c["tensors"] for x in g[off:off + cnt]))


def keras_reference(c):
    p = list(c["p0"])
    n = len(p)
    m = [0.0] * n
    v = [0.0] * n
    out = []
    for t, g in enumerate(c["grads"], 1):
        g = list(g)
        if c["global_clipnorm"] > 0:
            # Keras's clip_by_global_norm: every gradient * clip / max(global norm, clip)
            scale = c["global_clipnorm"] / max(global_norm(c, g), c["global_clipnorm"])
            g = [x * scale for x in g]
        elif c["clipnorm"] > 0:
            for off, cnt in c["tensors"]:
                norm = math.sqrt(sum(x * x for x in g[off:off + cnt]))
                if norm > 0:
                    for i in range(off, off + cnt):
                        g[i] = g[i] * c["clipnorm"] / max(norm, c["clipnorm"])
        elif c["clipvalue"] > 0:
            g = [min(max(x, -c["clipvalue"]), c["clipvalue"]) for x in g]
        lr = c["lr"]
        p = [x - x * c["weight_decay"] * lr for x in p]
        if c["kind"] in ("adam", "adamw"):
            b1, b2 = c["beta1"], c["beta2"]
            alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            for i in range(n):
                m[i] += (g[i] - m[i]) * (1 - b1)
                v[i] += (g[i] * g[i] - v[i]) * (1 - b2)
                p[i] -= alpha * m[i] / (math.sqrt(v[i]) + c["epsilon"])
        elif c["kind"] == "sgd":
            for i in range(n):
                m[i] = c["momentum"] * m[i] - lr * g[i]
                p[i] += m[i]
        elif c["kind"] == "rmsprop":
            for i in range(n):
                v[i] = 0.9 * v[i] + 0.1 * g[i] * g[i]
                p[i] -= lr * g[i] / math.sqrt(v[i] + c["epsilon"])
        out.append(list(p))
    return out


def torch_adamw(c):
    import torch
    params = [torch.nn.Parameter(torch.tensor(c["p0"][off:off + cnt], dtype=torch.float64))
              for off, cnt in c["tensors"]]
    opt = torch.optim.AdamW(params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["epsilon"],
                            weight_decay=c["weight_decay"])
    out = []
    for g in c["grads"]:
        for q, (off, cnt) in zip(params, c["tensors"]):
            q.grad = torch.tensor(g[off:off + cnt], dtype=torch.float64)
            if c["clipnorm"] > 0:
                torch.nn.utils.clip_grad_norm_([q], c["clipnorm"])  # per tensor, as Keras's clipnorm
            elif c["clipvalue"] > 0:
                torch.nn.utils.clip_grad_value_([q], c["clipvalue"])
        if c["global_clipnorm"] > 0:
            torch.nn.utils.clip_grad_norm_(params, c["global_clipnorm"])  # all together, as global_clipnorm
        opt.step()
        out.append([x for q in params for x in q.detach().tolist()])
    return out


def worst(a, b):
    return max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def main():
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch is not available: skipped")
        return 77
    p = subprocess.run([sys.argv[1]], stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        print("test_adamw_clip failed:\n" + p.stdout)
        return 1
    bad = 0
    for line in p.stdout.strip().split("\n"):
        c = json.loads(line)
        if "error" in c:
            print(c["error"])
            bad += 1
            continue
        got = c["params"]
        ref = keras_reference(c)
        dk = worst(got, ref)
        moved = worst([c["p0"]], [got[-1]])
        msg = "%-36s vs Keras's rules in double: worst |diff| %.1e (params moved up to %.3f)" % (c["name"], dk, moved)
        ok = dk < 2e-6 and moved > 1e-3
        if c["global_clipnorm"] > 0:
            # the norm the trainer clipped by is the one of the step's gradients
            # (within float rounding), and clipping did happen
            want = [global_norm(c, [as_float32(x) for x in g]) for g in c["grads"]]
            dn = max(abs(x - y) / y for x, y in zip(c["global_norms"], want))
            clipped = sum(x > c["global_clipnorm"] for x in want)
            msg += "; global norm rel diff %.1e, clipped in %d of %d steps" % (dn, clipped, len(want))
            ok = ok and dn < 1e-12 and clipped > 0
        if c["kind"] == "adamw":  # torch's clip_grad_norm_ divides by norm + 1e-6: within the tolerance
            dt = worst(got, torch_adamw(c))
            msg += "; vs torch.optim.AdamW: %.1e" % dt
            ok = ok and dt < 1e-5
        print(msg + ("" if ok else "  DIFFERS"))
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
