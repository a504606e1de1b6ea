"""Deep-learning 1-D convolution with PyTorch's (and Keras's) semantics, on either device.

Functions: `conv1d`, `max_pool1d`, `avg_pool1d` (as ``torch.nn.functional``).
Layers: `Conv1d`, `ReLU`, `MaxPool1d`, `AvgPool1d` and the `Sequential`
pipeline, with shapes checked before anything runs, weights on the CPU or
a GPU (`.to`), `Sequential.save` / `load` to ``.npz``, and `from_torch`.

>>> import numpy as np
>>> from gpuconv import nn
>>> net = nn.Sequential(nn.Conv1d(1, 16, 9, stride=2, padding=4, seed=0),
...                     nn.ReLU(),
...                     nn.Conv1d(16, 16, 9, padding=4, seed=1))
>>> net(np.zeros((32, 1, 4096), np.float32)).shape
(32, 16, 2048)
"""

from .functional import avg_pool1d, conv1d, max_pool1d
from .layers import AvgPool1d, Conv1d, MaxPool1d, ReLU, Sequential, from_torch, load

__all__ = ["AvgPool1d", "Conv1d", "MaxPool1d", "ReLU", "Sequential", "avg_pool1d", "conv1d",
           "from_torch", "load", "max_pool1d"]
