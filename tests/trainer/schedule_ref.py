"""The trainer's learning-rate schedules over 20 epochs against PyTorch's
torch.optim.lr_scheduler (step: StepLR; cosine: CosineAnnealingLR, with a
LinearLR warm-up through SequentialLR) and against Keras's ReduceLROnPlateau
algorithm transcribed below (PyTorch's ReduceLROnPlateau counts patience
differently, so it is not the reference the trainer follows).

    schedule_ref.py TEST_SCHEDULE_BINARY
Exit 0 on success, 1 on a difference, 77 without torch.
"""
import math
import subprocess
import sys

EPOCHS = 20


def torch_rates(make, lr):
    import torch
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    sched = make(opt)
    out = []
    for _ in range(EPOCHS):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def keras_plateau(values, lr, monitor, factor, patience, min_delta, cooldown, min_lr):
    """keras.callbacks.ReduceLROnPlateau.on_epoch_end, mode "auto"."""
    maximize = "acc" in monitor
    better = (lambda a, b: a > b + min_delta) if maximize else (lambda a, b: a < b - min_delta)
    best = -math.inf if maximize else math.inf
    wait = cooldown_counter = 0
    rates = []
    for v in values:
        rates.append(lr)
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if better(v, best):
            best = v
            wait = 0
        elif not cooldown_counter > 0:
            wait += 1
            if wait >= patience and lr > min_lr:
                lr = max(lr * factor, min_lr)
                cooldown_counter = cooldown
                wait = 0
    return rates


def main():
    try:
        import torch  # noqa: F401
        from torch.optim import lr_scheduler as S
    except ImportError:
        print("torch is not available: skipped")
        return 77
    cases, refs = [], []
    # step decay: StepLR(step_size, gamma), stepped once an epoch
    for every, factor, lr in ((3, 0.5, 0.1), (1, 0.9, 0.001), (7, 0.1, 1.0)):
        cases.append("step %d %r %r %d" % (every, factor, lr, EPOCHS))
        refs.append(("step every=%d factor=%g" % (every, factor),
                     torch_rates(lambda o: S.StepLR(o, step_size=every, gamma=factor), lr)))
    # cosine decay over the run (decay epochs 0 = EPOCHS - warmup), or over fewer epochs (then flat)
    for decay, warmup, alpha, lr in ((0, 0, 0.0, 0.01), (0, 0, 0.1, 0.003), (12, 0, 0.0, 0.1), (0, 3, 0.05, 0.01),
                                     (10, 4, 0.2, 0.5)):
        T = decay or EPOCHS - warmup
        cases.append("cosine %d %d %r %r %d" % (decay, warmup, alpha, lr, EPOCHS))

        def make(o, T=T, warmup=warmup, alpha=alpha, lr=lr):
            cos = S.CosineAnnealingLR(o, T_max=T, eta_min=alpha * lr)
            if not warmup:
                return cos
            lin = S.LinearLR(o, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup - 1)
            return S.SequentialLR(o, [lin, cos], milestones=[warmup])
        ref = torch_rates(make, lr)
        if T < EPOCHS - warmup:  # Keras's CosineDecay stays at alpha * lr after its decay steps
            ref = ref[:warmup + T + 1] + [alpha * lr] * (EPOCHS - warmup - T - 1)
        refs.append(("cosine epochs=%d warmup=%d alpha=%g" % (decay, warmup, alpha), ref))
    # reduce on plateau: losses that stall, an accuracy that stalls, cooldown and min_lr
    loss = [1.0, 0.8, 0.7, 0.7, 0.71, 0.69, 0.6999, 0.7, 0.5, 0.5, 0.5, 0.5, 0.49995, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]
    acc = [0.5, 0.6, 0.6, 0.6, 0.65, 0.64, 0.64, 0.7, 0.7, 0.7, 0.7, 0.71, 0.71, 0.71, 0.71, 0.8, 0.8, 0.8, 0.8, 0.8]
    monitors = ["val_loss", "val_accuracy", "loss", "accuracy"]
    for mon, vals, factor, patience, min_delta, cooldown, min_lr, lr in (
            (0, loss, 0.5, 2, 1e-4, 0, 0.0, 0.01),
            (0, loss, 0.1, 1, 0.0, 2, 1e-4, 0.01),
            (1, acc, 0.2, 2, 0.001, 1, 0.0, 0.1),
            (2, loss, 0.5, 0, 1e-4, 0, 0.001, 0.004),
            (3, acc, 0.5, 3, 0.0, 0, 0.0, 1.0)):
        cases.append("plateau %d %r %d %r %d %r %r %s" % (mon, factor, patience, min_delta, cooldown, min_lr, lr,
                                                         " ".join(repr(v) for v in vals)))
        refs.append(("plateau monitor=%s factor=%g patience=%d min_delta=%g cooldown=%d min_lr=%g"
                     % (monitors[mon], factor, patience, min_delta, cooldown, min_lr),
                     keras_plateau(vals, lr, monitors[mon], factor, patience, min_delta, cooldown, min_lr)))
    p = subprocess.run([sys.argv[1]], input="\n".join(cases) + "\n", stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        print("test_schedule failed (exit %d):\n%s" % (p.returncode, p.stdout))
        return 1
    lines = p.stdout.strip().split("\n")
    bad = 0
    for (name, ref), line in zip(refs, lines):
        got = [float(x) for x in line.split()]
        worst = max(abs(g - r) / max(abs(r), 1e-300) for g, r in zip(got, ref)) if len(got) == len(ref) else math.inf
        ok = worst <= 1e-12
        print("%-75s %s (worst relative difference %.1e)" % (name, "ok" if ok else "DIFFERS", worst))
        if not ok:
            print("  trainer:", got)
            print("  ref:    ", ref)
            bad += 1
    if len(lines) != len(refs):
        print("expected %d lines, got %d" % (len(refs), len(lines)))
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
