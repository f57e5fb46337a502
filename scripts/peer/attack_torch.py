"""An independent PyTorch implementation of PGD and Square (L-inf), to check opulab's numbers on the same model.

Attacks the model that scripts/peer/train_torch_cifar.py trained (its PyTorch weights, `model.pt` beside
`model.onnx`) on the first N CIFAR-10 test images and prints one JSON line: clean accuracy and the robust
accuracy under each attack (robust = still correctly classified at the end of the attack, over ALL N images;
images misclassified clean count as not robust). The settings follow opulab's definitions:

- PGD (Madry et al. 2018): uniform random start in the eps-box (seeded), `steps` steps of `step` along
  sign(grad of the cross-entropy on logits), each projected onto the eps-box and [0,1]; the final iterate
  is the result.
- Square (Andriushchenko, Croce, Flammarion, Hein, ECCV 2020), L-inf, margin loss on logits: vertical
  stripes of +-eps as the start, then per step one random s x s window filled with a random +-eps colour per
  channel, kept when the margin z_y - max_{i!=y} z_i decreases; the window side follows the paper's p(t)
  schedule (p halves at fixed fractions of the budget, iteration rescaled to 10,000); an image stops as soon
  as it is misclassified. The budget counts every model query per image, the clean one included (opulab's
  convention), so `queries` 1000 = 1 clean + 1 start + 998 steps.

    /usr/bin/python3 scripts/peer/attack_torch.py --model /work/byom/model.pt --n 500

Not part of `npm test` (no PyTorch on CI). One core by default (the machine is shared).
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from cifar import test_set
from train_torch_cifar import SmallResNet


def predict(model, x, batch=500):
    with torch.no_grad():
        return torch.cat([model(x[s : s + batch]) for s in range(0, len(x), batch)])


def pgd_linf(model, x0, y, eps, step, steps, seed, batch=250):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for s in range(0, len(x0), batch):
        xb, yb = x0[s : s + batch], y[s : s + batch]
        x = (xb + (torch.rand(xb.shape, generator=gen) * 2 - 1) * eps).clamp(0, 1)
        for _ in range(steps):
            x.requires_grad_(True)
            loss = F.cross_entropy(model(x), yb, reduction="sum")
            (g,) = torch.autograd.grad(loss, x)
            with torch.no_grad():
                x = x + step * g.sign()
                x = torch.min(torch.max(x, xb - eps), xb + eps).clamp(0, 1)
        out.append(x.detach())
    return torch.cat(out)


def margin(logits, y):
    """z_y - max_{i != y} z_i per row (negative iff misclassified)."""
    zy = logits.gather(1, y[:, None])[:, 0]
    other = logits.clone()
    other.scatter_(1, y[:, None], -float("inf"))
    return zy - other.max(1).values


def p_schedule(p_init, it, total):
    it = int(it / total * 10000)
    cuts = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000, 10000]
    for k in range(len(cuts) - 1):
        if cuts[k] < it <= cuts[k + 1]:
            return p_init / 2 ** (k + 1)
    return p_init


def square_linf(model, x0, y, eps, queries, p_init, seed):
    """Returns (adversarial images, queries used per image). Batched over the images still correctly classified."""
    rng = np.random.default_rng(seed)
    n, c, h, w = x0.shape
    used = np.ones(n, dtype=np.int64)  # the clean query
    clean_margin = margin(predict(model, x0), y)
    best = x0.clone()
    active = (clean_margin > 0).numpy()
    if queries >= 2:
        stripes = torch.from_numpy(rng.choice([-eps, eps], size=(n, c, 1, w)).astype(np.float32))
        best = torch.where(torch.from_numpy(active)[:, None, None, None], (x0 + stripes).clamp(0, 1), x0)
        idx = np.nonzero(active)[0]
        best_margin = clean_margin.clone()
        if len(idx):
            best_margin[idx] = margin(predict(model, best[idx]), y[idx])
            used[idx] += 1
        active &= (best_margin > 0).numpy()
    for it in range(queries - 2):
        idx = np.nonzero(active)[0]
        if len(idx) == 0:
            break
        frac = p_schedule(p_init, it, queries)
        s = min(max(int(round(math.sqrt(frac * h * w))), 1), h - 1, w - 1)
        cand = best[idx].clone()
        x0a = x0[idx]
        for j in range(len(idx)):
            top = rng.integers(0, max(h - s, 1))
            left = rng.integers(0, max(w - s, 1))
            win_x0 = x0a[j, :, top : top + s, left : left + s]
            win_best = cand[j, :, top : top + s, left : left + s]
            delta = win_best - win_x0
            for _ in range(20):  # resample the colour until the window changes (as the authors' code does)
                if ((win_x0 + delta).clamp(0, 1) - win_best).abs().max() >= 1e-7:
                    break
                colour = torch.from_numpy(rng.choice([-eps, eps], size=(c, 1, 1)).astype(np.float32))
                delta = colour.expand(c, s, s)
            cand[j, :, top : top + s, left : left + s] = (win_x0 + delta).clamp(0, 1)
        m = margin(predict(model, cand), y[idx])
        used[idx] += 1
        better = (m < best_margin[idx]).numpy()
        take = idx[better]
        best[take] = cand[better]
        best_margin[take] = m[better]
        active[idx[(m <= 0).numpy()]] = False
    return best, used


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="/work/byom/model.pt", help="state dict written by train_torch_cifar.py")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--data", default="/work/shared/datasets/cifar-10-batches-bin")
    ap.add_argument("--n", type=int, default=500, help="first N test images")
    ap.add_argument("--eps", type=float, default=8 / 255)
    ap.add_argument("--pgd-step", type=float, default=2 / 255)
    ap.add_argument("--pgd-steps", type=int, default=10)
    ap.add_argument("--square-queries", type=int, default=1000)
    ap.add_argument("--square-p-init", type=float, default=0.8, help="opulab's default 0.8 (AutoAttack); the paper's 0.05")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip", choices=["pgd", "square"], action="append", default=[])
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    model = SmallResNet(args.width)
    model.load_state_dict(torch.load(args.model))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    images, labels = test_set(args.data)
    x = torch.from_numpy(images[: args.n])
    y = torch.from_numpy(labels[: args.n])

    out = {"model": os.path.abspath(args.model), "n": args.n, "eps": args.eps, "seed": args.seed, "torch": torch.__version__}
    out["cleanAccuracy"] = float((predict(model, x).argmax(1) == y).float().mean())
    if "pgd" not in args.skip:
        t = time.time()
        adv = pgd_linf(model, x, y, args.eps, args.pgd_step, args.pgd_steps, args.seed)
        assert float((adv - x).abs().max()) <= args.eps + 1e-6
        out["pgd"] = {"steps": args.pgd_steps, "stepSize": args.pgd_step, "randomStart": True, "loss": "ce",
                      "robustAccuracy": float((predict(model, adv).argmax(1) == y).float().mean()),
                      "seconds": round(time.time() - t, 1)}
    if "square" not in args.skip:
        t = time.time()
        adv, used = square_linf(model, x, y, args.eps, args.square_queries, args.square_p_init, args.seed)
        assert float((adv - x).abs().max()) <= args.eps + 1e-6
        fooled = (predict(model, adv).argmax(1) != y).numpy()
        out["square"] = {"maxQueries": args.square_queries, "pInit": args.square_p_init, "loss": "margin",
                         "robustAccuracy": float(1 - fooled.mean()),
                         "meanQueriesOfSuccesses": float(used[fooled].mean()) if fooled.any() else None,
                         "seconds": round(time.time() - t, 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
