"""Train a small residual CNN on CIFAR-10 in PyTorch and export it to ONNX: a model made OUTSIDE opulab,
for `opulab attack --model FILE` (README "Attacking your own model").

The network takes [0,1] pixels in NCHW and normalizes inside the graph (the standard advice for attack
libraries: the attacker's eps is then in pixel units). A 3x3 conv stem and a 2x2 max pool, then three
stages of a residual block (conv-BN-ReLU-conv-BN, identity Add) with strided 3x3 convs between them,
global average pooling and a linear layer; it outputs logits (about 4.6 M multiply-adds per image, so a
few epochs train in minutes on one core). Trained with SGD + Nesterov momentum, a one-cycle learning rate, random crop
(pad 4) and horizontal flip; every random choice is seeded.

    /usr/bin/python3 scripts/peer/train_torch_cifar.py \
        --data /work/shared/datasets/cifar-10-batches-bin --out /work/byom/model.onnx

Not part of `npm test` (no PyTorch on CI). Prints one JSON line with the test accuracy.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from cifar import test_set, train_set

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class Normalize(nn.Module):
    """(x - mean) / std per channel, inside the model so that inputs are [0,1] pixels."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn_a = nn.BatchNorm2d(c)
        self.b = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn_b = nn.BatchNorm2d(c)

    def forward(self, x):
        y = F.relu(self.bn_a(self.a(x)))
        return F.relu(x + self.bn_b(self.b(y)))


class SmallResNet(nn.Module):
    def __init__(self, width=16, classes=10):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            Normalize(CIFAR_MEAN, CIFAR_STD),
            conv_bn(3, w),
            nn.MaxPool2d(2),
            Residual(w),
            conv_bn(w, 2 * w, stride=2),
            Residual(2 * w),
            conv_bn(2 * w, 4 * w, stride=2),
            Residual(4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(4 * w, classes)

    def forward(self, x):
        return self.fc(self.features(x))


def augment(batch, rng):
    """Random crop after zero padding by 4, and a random horizontal flip, per image."""
    n = batch.shape[0]
    padded = np.pad(batch, ((0, 0), (0, 0), (4, 4), (4, 4)))
    out = np.empty_like(batch)
    tops = rng.integers(0, 9, n)
    lefts = rng.integers(0, 9, n)
    flips = rng.random(n) < 0.5
    for i in range(n):
        crop = padded[i, :, tops[i] : tops[i] + 32, lefts[i] : lefts[i] + 32]
        out[i] = crop[:, :, ::-1] if flips[i] else crop
    return out


def accuracy(model, images, labels, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(images), batch):
            logits = model(torch.from_numpy(images[s : s + batch]))
            correct += int((logits.argmax(1).numpy() == labels[s : s + batch]).sum())
    return correct / len(images)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/work/shared/datasets/cifar-10-batches-bin")
    ap.add_argument("--out", default="/work/byom/model.onnx")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x_train, y_train = train_set(args.data)
    x_test, y_test = test_set(args.data)

    model = SmallResNet(args.width)
    steps_per_epoch = len(x_train) // args.batch
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)
    started = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(x_train))
        total = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * args.batch : (step + 1) * args.batch]
            xb = torch.from_numpy(augment(x_train[idx], rng))
            yb = torch.from_numpy(y_train[idx])
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss)
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {total / steps_per_epoch:.3f}, "
              f"{time.time() - started:.0f} s", flush=True)

    model.eval()
    test_acc = accuracy(model, x_test, y_test)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save(model.state_dict(), os.path.splitext(args.out)[0] + ".pt")
    dummy = torch.zeros(1, 3, 32, 32)
    torch.onnx.export(
        model,
        dummy,
        args.out,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13,
    )
    print(json.dumps({"model": args.out, "epochs": args.epochs, "width": args.width, "seed": args.seed,
                      "test_accuracy": test_acc, "train_seconds": round(time.time() - started, 1),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
