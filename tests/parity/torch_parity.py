#!/usr/bin/python3
"""torch_parity.py: the PyTorch half of the parity test.

usage: torch_parity.py NET.py OUTDIR [OUTDIR...]

NET.py is `cnnc --emit pytorch` output; each OUTDIR/c_results.safetensors
was written by parity_torch (see parity_torch.c). Starting from the same weights
and inputs, this recomputes in PyTorch (float32, autograd):
  - the training-mode forward (batch statistics; dropout with the C model's
    masks, reproduced from runtime/include/cnn_rng.h), the loss, dLoss/dlogits and
    every parameter gradient, and the running statistics after it;
  - an inference-mode forward;
  - 10 steps of SGD, SGD with momentum, SGD with Nesterov momentum, Adam and
    RMSprop, with KERAS's update rules written out below (torch.optim's
    differ: Adam's epsilon, RMSprop's epsilon placement, SGD's momentum sign
    convention),
and compares each with the C results: max |c - torch| / max(|torch|, floor)
must stay under 1e-4, where floor = 1e-2 * max |torch| over the tensor (so
entries a hundred times smaller than the tensor's largest are compared
absolutely at that scale: float32 sums with cancellation are accurate
relative to their terms, not to a small result); a gradient that is zero in
exact arithmetic must be at most 1e-5 of the largest gradient; weights after Adam and RMSprop steps use
floor = max |torch| (see below). PyTorch runs in float64 from the C side's
float32 weights and inputs, so the C results are compared with exact values. Exits 0 when everything agrees, 1 otherwise,
77 when torch is missing.
"""
import importlib.util
import math
import os
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
except ImportError as e:  # the test is skipped, not failed
    print(f"torch_parity: skipped: {e}")
    sys.exit(77)

RTOL = 1e-4
FLOOR = 1e-2
# A gradient that is zero in exact arithmetic (a bias cancelled by a
# following batchnorm, a unit no image activates) is float rounding noise on
# the C side: such a tensor (max |torch| <= ZERO * G, G the largest gradient
# of the network) passes when max |C| <= ZERO_TOL * G.
ZERO = 1e-6
ZERO_TOL = 1e-5
# PyTorch computes in float64 from the C side's float32 weights and inputs:
# the C results (float32) are then compared with the exact values, not with
# another float32 computation whose own rounding (summation order) is as
# large as the tolerance.
DTYPE = torch.float64
M64 = (1 << 64) - 1

# The optimizers of parity_torch.c, in the same order.
OPTIMIZERS = [
    ("sgd", {"kind": "sgd", "lr": 0.001, "momentum": 0.0, "nesterov": False}),
    ("sgd_momentum", {"kind": "sgd", "lr": 0.001, "momentum": 0.9, "nesterov": False}),
    ("sgd_nesterov", {"kind": "sgd", "lr": 0.001, "momentum": 0.9, "nesterov": True}),
    ("adam", {"kind": "adam", "lr": 0.0001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7}),
    ("rmsprop", {"kind": "rmsprop", "lr": 0.0001, "rho": 0.9, "epsilon": 1e-7}),
]


# ---- runtime/include/cnn_rng.h in Python ------------------------------------------

def _mix64_int(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def _mix64_np(z):
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def rng_uniform(seed, stream, a, b):
    """cnn_rng_uniform(seed, stream, a, b) for an array of b."""
    h = _mix64_int(seed ^ _mix64_int(stream))
    h = _mix64_int(h ^ a)
    with np.errstate(over="ignore"):
        r = _mix64_np(np.uint64(h) ^ (b.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)))
    return (r >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


CNN_RNG_DROPOUT = 5


class KeyedDropout(nn.Module):
    """Inverted dropout with the C model's masks: element e (NHWC index) of
    image i of layer L is kept when
    cnn_rng_uniform(seed, CNN_RNG_DROPOUT, step*64 + L, i*size + e) >= rate."""

    def __init__(self, rate, layer_index, seed):
        super().__init__()
        self.rate = float(np.float32(rate))  # the C model's rate is a float
        self.layer_index = layer_index
        self.seed = seed
        self.step = 0

    def forward(self, x):
        if not self.training or self.rate == 0.0:
            return x
        nhwc = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
        u = rng_uniform(self.seed, CNN_RNG_DROPOUT, self.step * 64 + self.layer_index, np.arange(nhwc.numel()))
        keep = torch.from_numpy(u >= self.rate).reshape(nhwc.shape)
        scale = torch.tensor(1.0 / (1.0 - self.rate), dtype=torch.float32)
        mask = keep.to(torch.float32) * scale
        if x.dim() == 4:
            mask = mask.permute(0, 3, 1, 2)
        return x * mask


# ---- Keras's optimizers written out in torch ------------------------------

class KerasOptimizer:
    """Keras 3 update rules on float32 tensors (as runtime/train/optim.c):
    Adam:    m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
             p -= lr sqrt(1 - b2^t)/(1 - b1^t) * m / (sqrt(v) + eps)   (epsilon hat)
    SGD:     v = mu v - lr g; p += v, or p += mu v - lr g (nesterov); p -= lr g without momentum
    RMSprop: v = rho v + (1 - rho) g^2; p -= lr g / sqrt(v + eps)   (epsilon inside the sqrt)"""

    def __init__(self, params, cfg):
        self.params = list(params)  # float32 tensors, updated in place
        self.cfg = cfg
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, grads):
        c = self.cfg
        self.t += 1
        f32 = lambda v: torch.tensor(v, dtype=torch.float32)  # scalars rounded as the C code does
        for p, m, v, g in zip(self.params, self.m, self.v, grads):
            g = g.to(torch.float32)
            if c["kind"] == "adam":
                alpha = f32(c["lr"] * math.sqrt(1.0 - c["beta2"] ** self.t) / (1.0 - c["beta1"] ** self.t))
                m += (g - m) * f32(1.0 - c["beta1"])
                v += (g * g - v) * f32(1.0 - c["beta2"])
                p -= (m * alpha) / (torch.sqrt(v) + f32(c["epsilon"]))
            elif c["kind"] == "sgd":
                lr = f32(c["lr"])
                if c["momentum"] == 0.0:
                    p -= lr * g
                else:
                    mu = f32(c["momentum"])
                    m.copy_(mu * m - lr * g)
                    if c["nesterov"]:
                        p += mu * m - lr * g
                    else:
                        p += m
            elif c["kind"] == "rmsprop":
                lr = f32(c["lr"])
                v.copy_(f32(c["rho"]) * v + f32(1.0 - c["rho"]) * g * g)
                p -= lr * g / torch.sqrt(v + f32(c["epsilon"]))
            else:
                raise ValueError(c["kind"])


# ---- comparison -----------------------------------------------------------

class Report:
    def __init__(self, floor_frac):
        self.failures = 0
        self.rows = []
        self.floor_frac = floor_frac

    def compare(self, what, c, t, floor_frac=None, zero_scale=None):
        if floor_frac is None:
            floor_frac = self.floor_frac
        c = c.detach().to(torch.float64).reshape(-1)
        t = t.detach().to(torch.float64).reshape(-1)
        if c.shape != t.shape:
            self.failures += 1
            print(f"FAIL {what}: shape {tuple(c.shape)} vs {tuple(t.shape)}")
            return
        if c.numel() == 0:
            return
        if not bool(torch.isfinite(c).all()) or not bool(torch.isfinite(t).all()):
            self.failures += 1
            print(f"FAIL {what}: non-finite values")
            return
        scale = float(t.abs().max())
        if zero_scale is not None and scale <= ZERO * zero_scale:
            worst = float(c.abs().max()) / zero_scale
            self.rows.append((what + " (zero)", worst * RTOL / ZERO_TOL))
            if worst > ZERO_TOL:
                self.failures += 1
                print(f"FAIL {what}: exact gradient is zero, C has {worst * zero_scale:.3g} "
                      f"(> {ZERO_TOL:g} x the largest gradient {zero_scale:.3g})")
            return
        floor = max(floor_frac * scale, 1e-30)
        rel = (c - t).abs() / torch.clamp(t.abs(), min=floor)
        worst = float(rel.max())
        self.rows.append((what, worst))
        if worst > RTOL:
            self.failures += 1
            j = int(rel.argmax())
            print(f"FAIL {what}: relative error {worst:.3g} at [{j}]: C {float(c[j]):.9g} torch {float(t[j]):.9g}")


def load_module(path):
    spec = importlib.util.spec_from_file_location("cnn_net", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fresh_model(mod, res, seed):
    """The network on the C side's initial weights, in float64 (see DTYPE)."""
    model = mod.Net()
    state = {k[len("init/"):]: v for k, v in res.items() if k.startswith("init/")}
    model.load_state_dict(state, strict=True)
    for i, name in enumerate(mod.LAYERS):
        if isinstance(getattr(model, name, None), nn.Dropout):
            setattr(model, name, KeyedDropout(getattr(model, name).p, i, seed))
    return model.to(DTYPE)


def set_step(model, step):
    for m in model.modules():
        if isinstance(m, KeyedDropout):
            m.step = step


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    torch.manual_seed(0)
    torch.set_num_threads(1)
    mod = load_module(sys.argv[1])
    status = 0
    for outdir in sys.argv[2:]:
        status |= check_results(mod, outdir)
    return status


def check_results(mod, outdir):
    res, meta = mod.load_safetensors(os.path.join(outdir, "c_results.safetensors"))
    seed = int(meta["seed"])
    steps = int(meta["steps"])
    # float64 C results (generated code and reference compiled in double) must
    # agree element by element; float32 ones (as shipped) are compared
    # norm-wise: a float32 sum of 28,800 terms is accurate relative to the
    # sum of its terms' magnitudes, which can be far above a small result.
    precision = meta.get("precision", "float32")
    rep = Report(FLOOR if precision == "float64" else 1.0)
    # initialisation: the module's init_cnnc must give the C model's Glorot
    # kernels bit for bit (the driver leaves them as cnn_init_params made them)
    init = mod.init_cnnc(mod.Net(), seed).state_dict()
    for name, _, _, _ in [t for t in mod.TENSORS if t[1] == "glorot_uniform"]:
        same = torch.equal(init[name].to(torch.float64), res["init/" + name].to(torch.float64))
        rep.rows.append((f"init/{name} (bitwise)", 0.0 if same else float("inf")))
        if not same:
            rep.failures += 1
            print(f"FAIL init/{name}: init_cnnc differs from the C model's cnn_init_params")
    x = res["x"].permute(0, 3, 1, 2).contiguous().to(DTYPE)
    labels = res["labels"].round().long()
    prefixes = [""] + (["ref/"] if "ref/train/logits" in res else [])

    # one training step: logits, loss, dlogits, gradients, running statistics
    model = fresh_model(mod, res, seed)
    model.train()
    set_step(model, 0)
    logits = model(x)
    logits.retain_grad()
    loss = mod.loss(logits, labels)
    loss.backward()
    for pre in prefixes:
        rep.compare(f"{pre}train/logits", res[pre + "train/logits"], logits)
        rep.compare(f"{pre}train/loss", res[pre + "train/loss"], loss.reshape(1))
        rep.compare(f"{pre}train/dlogits", res[pre + "train/dlogits"], logits.grad)
        gmax = max(float(p.grad.abs().max()) for p in model.parameters())
        for name, p in model.named_parameters():
            rep.compare(f"{pre}grad/{name}", res[pre + "grad/" + name], p.grad, zero_scale=gmax)
        for name, b in model.named_buffers():
            rep.compare(f"{pre}train/after/{name}", res[pre + "train/after/" + name], b)

    # inference
    model = fresh_model(mod, res, seed)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    for pre in prefixes:
        rep.compare(f"{pre}eval/logits", res[pre + "eval/logits"], logits)

    # optimizer steps, Keras's rules, on float32 weights as the C trainer keeps
    # them; each step's gradients come from the float64 network on those weights
    for opt_name, cfg in OPTIMIZERS if steps > 0 else []:
        model = fresh_model(mod, res, seed)
        model.train()
        named = list(model.named_parameters())
        master = [p.detach().to(torch.float32).clone() for _, p in named]
        opt = KerasOptimizer(master, cfg)
        losses = []
        for s in range(steps):
            with torch.no_grad():
                for (_, p), w in zip(named, master):
                    p.copy_(w.to(DTYPE))
            set_step(model, s)
            model.zero_grad(set_to_none=False)
            loss = mod.loss(model(x), labels)
            loss.backward()
            opt.step([p.grad for _, p in named])
            losses.append(float(loss))
        rep.compare(f"opt/{opt_name}/losses", res[f"opt/{opt_name}/losses"], torch.tensor(losses))
        # Adam and RMSprop divide each element's step by its own gradient
        # scale, so float rounding in a near-zero gradient (whose relative
        # error is unbounded) changes that element by up to lr: their weights
        # are compared relative to the tensor's largest value (norm-wise).
        floor = 1.0 if cfg["kind"] in ("adam", "rmsprop") else None
        for (name, _), w in zip(named, master):
            rep.compare(f"opt/{opt_name}/{name}", res[f"opt/{opt_name}/{name}"], w, floor)
        for name, b in model.named_buffers():
            rep.compare(f"opt/{opt_name}/{name}", res[f"opt/{opt_name}/{name}"], b)

    worst = max(rep.rows, key=lambda r: r[1]) if rep.rows else ("-", 0.0)
    print(f"{meta.get('model', '?')} ({meta.get('engine', '?')} {precision} vs PyTorch {torch.__version__} float64): "
          f"{len(rep.rows)} tensors compared, worst relative error {worst[1]:.2e} ({worst[0]}), "
          f"{rep.failures} failure(s)")
    if os.environ.get("PARITY_VERBOSE"):
        for what, err in rep.rows:
            print(f"  {err:.2e}  {what}")
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
