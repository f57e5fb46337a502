"""Dump the PyTorch state dict that train_torch_cifar.py wrote as JSON ({name: {shape, data}}), for
torch_to_tfjs.js, which rebuilds the same network as a TensorFlow.js LayersModel.

    /usr/bin/python3 scripts/peer/export_weights.py /work/byom/model.pt /work/byom/weights.json
"""
import json
import sys

import torch

state = torch.load(sys.argv[1])
out = {k: {"shape": list(v.shape), "data": v.float().flatten().tolist()} for k, v in state.items() if v.dtype.is_floating_point}
with open(sys.argv[2], "w") as f:
    json.dump(out, f)
print(f"{len(out)} tensors -> {sys.argv[2]}")
