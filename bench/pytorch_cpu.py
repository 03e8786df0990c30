"""PyTorch on the CPU, on the same d2l configurations as `rnnplay bench presets --backend cpu`.

Trains d2l's classic code — the scratch RNN (hidden 512, one-hot input, `normal * 0.01` init)
and the concise `nn.GRU` (hidden 256) with a Linear head — on the first 10 000 characters of The
Time Machine, batch 32 × 35 steps, sequential partitioning with the state detached between
minibatches, mean cross-entropy, global-norm clipping at θ = 1 and SGD with lr 1, exactly as
d2l's `train_ch8`. Prints one JSON line per preset, with the same warm-up and timed minibatches
as our benchmark, so the two can be put side by side:

    python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch
    RNNPLAY_DATA_DIR=../shared/data /tmp/tv/bin/python bench/pytorch_cpu.py --threads 1
    RNNPLAY_DATA_DIR=../shared/data ./target/release/rnnplay bench presets --backend cpu \\
        --preset d2l-rnn-scratch --preset d2l-gru --batches 20 --json

`--threads` should match the threads our CPU backend uses (one: its GEMM is single-threaded).
`--device cuda` runs the same code on a GPU (cuDNN's GRU), the yardstick `scripts/gpu-check.sh`
puts beside the GPU backend. This is not part of CI and needs PyTorch; see docs/PERFORMANCE.md
for recorded results.
"""

import argparse
import collections
import json
import math
import os
import pathlib
import random
import re
import time

import torch
import torch.nn.functional as F
from torch import nn


def load_corpus(max_tokens=10_000):
    """d2l's read_time_machine + char tokenize + Vocab (descending frequency, ties first-seen)."""
    root = pathlib.Path(os.environ.get("RNNPLAY_DATA_DIR", pathlib.Path.home() / ".cache/rnnplay"))
    lines = (root / "timemachine.txt").read_text().splitlines()
    lines = [re.sub("[^A-Za-z]+", " ", line).strip().lower() for line in lines]
    tokens = [ch for line in lines for ch in line]
    counts = collections.Counter(tokens)
    order = {}
    for t in tokens:
        order.setdefault(t, len(order))
    vocab = ["<unk>"] + sorted(counts, key=lambda t: (-counts[t], order[t]))
    index = {t: i for i, t in enumerate(vocab)}
    return [index[t] for t in tokens][:max_tokens], len(vocab)


def seq_data_iter_sequential(corpus, batch_size, num_steps, rng):
    """d2l's sequential partitioning with a random offset."""
    offset = rng.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    xs = torch.tensor(corpus[offset : offset + num_tokens])
    ys = torch.tensor(corpus[offset + 1 : offset + 1 + num_tokens])
    xs, ys = xs.reshape(batch_size, -1), ys.reshape(batch_size, -1)
    for i in range(0, xs.shape[1] // num_steps * num_steps, num_steps):
        yield xs[:, i : i + num_steps], ys[:, i : i + num_steps]


class ScratchRNN:
    """d2l 8.5: RNNModelScratch with get_params / init_rnn_state / rnn."""

    def __init__(self, vocab_size, num_hiddens):
        def normal(shape):
            return torch.randn(size=shape) * 0.01

        self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
        self.params = [
            normal((vocab_size, num_hiddens)),
            normal((num_hiddens, num_hiddens)),
            torch.zeros(num_hiddens),
            normal((num_hiddens, vocab_size)),
            torch.zeros(vocab_size),
        ]
        for p in self.params:
            p.requires_grad_(True)

    def begin_state(self, batch_size):
        return (torch.zeros((batch_size, self.num_hiddens)),)

    def __call__(self, x, state):
        inputs = F.one_hot(x.T, self.vocab_size).type(torch.float32)
        w_xh, w_hh, b_h, w_hq, b_q = self.params
        (h,) = state
        outputs = []
        for step in inputs:
            h = torch.tanh(step @ w_xh + h @ w_hh + b_h)
            outputs.append(h @ w_hq + b_q)
        return torch.cat(outputs, dim=0), (h,)


class ConciseRNN(nn.Module):
    """d2l 8.6: RNNModel around nn.GRU with one-hot input and a Linear head."""

    def __init__(self, vocab_size, num_hiddens):
        super().__init__()
        self.rnn = nn.GRU(vocab_size, num_hiddens)
        self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
        self.linear = nn.Linear(num_hiddens, vocab_size)

    def begin_state(self, batch_size):
        return torch.zeros((1, batch_size, self.num_hiddens))

    def forward(self, x, state):
        inputs = F.one_hot(x.T.long(), self.vocab_size).type(torch.float32)
        y, state = self.rnn(inputs, state)
        return self.linear(y.reshape((-1, y.shape[-1]))), state


def grad_clipping(params, theta):
    norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
    if norm > theta:
        for p in params:
            p.grad[:] *= theta / norm


def measure(name, net, params, corpus, warmup, batches, lr=1.0, batch_size=32, num_steps=35):
    rng = random.Random(0)
    loss_fn = nn.CrossEntropyLoss()

    def minibatches():
        while True:
            yield from seq_data_iter_sequential(corpus, batch_size, num_steps, rng)

    state = None
    stream = minibatches()

    def step():
        nonlocal state
        x, y = next(stream)
        if state is None:
            state = net.begin_state(batch_size)
        elif isinstance(state, tuple):
            state = tuple(s.detach() for s in state)
        else:
            state = state.detach()
        y_hat, state = net(x, state)
        loss = loss_fn(y_hat, y.T.reshape(-1).long())
        for p in params:
            p.grad = None
        loss.backward()
        grad_clipping(params, 1.0)
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        return loss.item()

    for _ in range(warmup):
        step()
    started = time.perf_counter()
    loss = 0.0
    for _ in range(batches):
        loss = step()
    seconds = time.perf_counter() - started
    return {
        "bench": "pytorch_cpu",
        "preset": name,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": str(torch.get_default_device()),
        "tokens_per_s": batches * batch_size * num_steps / seconds,
        "batches": batches,
        "seconds": seconds,
        "last_perplexity": math.exp(loss),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for PyTorch on a GPU")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # Every tensor the models, states and minibatches create goes there.
    torch.set_default_device(args.device)
    torch.manual_seed(0)
    corpus, vocab_size = load_corpus()
    scratch = ScratchRNN(vocab_size, 512)
    print(json.dumps(measure("d2l-rnn-scratch", scratch, scratch.params, corpus, args.warmup, args.batches)))
    concise = ConciseRNN(vocab_size, 256)
    print(json.dumps(measure("d2l-gru", concise, list(concise.parameters()), corpus, args.warmup, args.batches)))


if __name__ == "__main__":
    main()
