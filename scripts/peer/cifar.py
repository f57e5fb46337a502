"""CIFAR-10 binary reader shared by the peer scripts (the same files opulab reads).

Each record of data_batch_{1..5}.bin / test_batch.bin is 1 label byte followed by 3072 pixel bytes
(1024 red, 1024 green, 1024 blue, row-major 32x32). Images are returned as float32 NCHW in [0, 1].
"""
import os

import numpy as np

RECORD = 1 + 3 * 32 * 32


def read_batches(data_dir, names):
    """Returns (images float32 [N,3,32,32] in [0,1], labels int64 [N]) of the named batch files, in order."""
    chunks = []
    for name in names:
        path = os.path.join(data_dir, name)
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size % RECORD != 0:
            raise SystemExit(f"{path}: size {raw.size} is not a multiple of the {RECORD}-byte CIFAR-10 record")
        chunks.append(raw.reshape(-1, RECORD))
    rows = np.concatenate(chunks, axis=0)
    labels = rows[:, 0].astype(np.int64)
    images = rows[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    return images, labels


def train_set(data_dir):
    return read_batches(data_dir, [f"data_batch_{i}.bin" for i in range(1, 6)])


def test_set(data_dir):
    return read_batches(data_dir, ["test_batch.bin"])
