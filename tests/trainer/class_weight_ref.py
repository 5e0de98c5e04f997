"""Keras's class_weight in the trainer's loss against PyTorch: for each case
test_class_weight prints (logits, labels, weights, the trainer's loss and
dL/dlogits), the loss is recomputed as sum_i w[y_i] * l_i / n with torch's
cross-entropy (binary: binary_cross_entropy_with_logits) and its gradient by
autograd, in double.

    class_weight_ref.py TEST_CLASS_WEIGHT_BINARY
Exit 0 on success, 1 on a difference, 77 without torch.
"""
import json
import subprocess
import sys


def main():
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("torch is not available: skipped")
        return 77
    p = subprocess.run([sys.argv[1]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        print("test_class_weight failed:\n" + p.stderr)
        return 1
    bad = 0
    for line in p.stdout.strip().split("\n"):
        c = json.loads(line)
        n, k = len(c["labels"]), c["outputs"]
        z = torch.tensor(c["logits"], dtype=torch.float64).reshape(n, k).requires_grad_(True)
        y = torch.tensor(c["labels"])
        w = torch.tensor(c["weights"], dtype=torch.float64)
        if k == 1:
            each = F.binary_cross_entropy_with_logits(z[:, 0], y.double(), reduction="none")
        else:
            each = F.cross_entropy(z, y, reduction="none")
        loss = (w[y] * each).sum() / n  # Keras: sum over the batch of w * loss, divided by the batch size
        loss.backward()
        grad = z.grad.reshape(-1).tolist()
        dl = abs(loss.item() - c["loss"]) / abs(loss.item())
        dg = max(abs(a - b) for a, b in zip(grad, c["dlogits"])) / max(abs(g) for g in grad)
        torch_weighted = F.cross_entropy(z.detach(), y, weight=w).item() if k > 1 else None
        ok = dl < 1e-6 and dg < 1e-6
        print("%s n=%d: loss %.8f (torch %.8f, rel diff %.1e), dlogits worst rel diff %.1e%s%s"
              % (c["model"], n, c["loss"], loss.item(), dl, dg,
                 "" if torch_weighted is None else "; CrossEntropyLoss(weight=) would give %.8f" % torch_weighted,
                 "" if ok else "  DIFFERS"))
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
