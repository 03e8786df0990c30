# --- shared by rnnplay's exported scripts: the run's spec, safetensors without dependencies,
# --- d2l's clipping, rnnplay's optimizers and learning-rate schedules, the training loop, the
# --- command line and the processes (DDP). The task's own data and model code follow it.

import argparse
import io
import json
import math
import os
import pathlib
import random
import re
import struct
import zipfile

import torch
from torch import nn
from torch.nn import functional as F

# What the rnnplay run was: its spec, the model's architecture, the checkpoint it saved and the
# epochs that had trained.
SPEC = json.loads(__SPEC__)
CONFIG = json.loads(__CONFIG__)
CHECKPOINT = __CHECKPOINT__
EPOCHS_DONE = __EPOCHS__


def read_safetensors(path):
    """The tensors and metadata of a safetensors file (the format is 8 bytes of header length,
    a JSON header, then the raw little-endian data)."""
    data = pathlib.Path(path).read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    metadata = header.pop("__metadata__", {})
    body = data[8 + size :]
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {entry['dtype']}, not F32")
        start, end = entry["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(body[start:end]), dtype=torch.float32).reshape(entry["shape"])
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    chunks, offset = [], 0
    for name in sorted(tensors):
        values = tensors[name].detach().to("cpu", torch.float32).flatten().tolist()
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    pathlib.Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def grad_clipping(params, theta):
    """d2l's grad_clipping: scale every gradient by θ / ‖g‖ when the global norm is above θ."""
    norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
    if norm > theta:
        for p in params:
            p.grad[:] *= theta / norm
    return norm.item()


def make_optimizer(params):
    """The run's optimizer in PyTorch: SGD (d2l's), Adam or AdamW, at the spec's learning rate
    and weight decay."""
    optimizer = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}.get(SPEC["optimizer"], torch.optim.SGD)
    return optimizer(params, lr=SPEC["lr"], weight_decay=SPEC.get("weight_decay", 0.0))


def lr_at(epoch, epochs):
    """The rate of epoch `epoch` (from 0) of `epochs`: rnnplay's LrSchedule (StepLR, or cosine
    annealing after a linear warm-up)."""
    base, schedule = SPEC["lr"], SPEC["lr_schedule"]
    if schedule.startswith("step:"):
        _, step_size, gamma = schedule.split(":")
        return base * float(gamma) ** (epoch // max(int(step_size), 1))
    if schedule.startswith("cosine"):
        warmup = int(schedule.split(":")[1]) if ":" in schedule else 0
        if epoch < warmup:
            return base * (epoch + 1) / warmup
        return base * 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / max(epochs - warmup, 1)))
    return base


def train_epochs(args, rank, net, batches, epoch_line):
    """rnnplay's training loop, as d2l's: each epoch at its scheduled rate; for each
    (loss, summed loss, count) that `batches(epoch)` yields, the gradients zeroed, backward,
    clipped to θ and the update; then (first process) the epoch's JSON line,
    `epoch_line(epoch, summed / count, mean pre-clip norm)`."""
    params = list(net.parameters())
    optimizer = make_optimizer(params)
    for epoch in range(EPOCHS_DONE, args.epochs):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(epoch, args.epochs)
        total, count, norms = 0.0, 0, []
        for loss, summed, n in batches(epoch):
            optimizer.zero_grad()
            loss.backward()
            norms.append(grad_clipping(params, SPEC["clip"]))
            optimizer.step()
            total, count = total + summed, count + n
        if rank == 0:
            print(json.dumps(epoch_line(epoch + 1, total / max(count, 1), sum(norms) / max(len(norms), 1))), flush=True)


def command_line(data_default, data_help, check_help, more=None):
    """The scripts' flags; `more(parser)` adds a script's own."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=CHECKPOINT, help="the weights to start from")
    parser.add_argument("--data", default=data_default, help=data_help)
    parser.add_argument("--epochs", type=int, default=SPEC["epochs"], help="epochs in all, counting those trained")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--ddp", action="store_true", help="DistributedDataParallel (launch with torchrun)")
    parser.add_argument("--check", default=None, help=check_help)
    parser.add_argument("--save", default=None, help="write the weights (safetensors, rnnplay's metadata) here")
    if more is not None:
        more(parser)
    return parser.parse_args()


def start_processes(args):
    """(rank, world size, device): one process, or this one's place under torchrun with --ddp."""
    if not args.ddp:
        return 0, 1, torch.device(args.device)
    torch.distributed.init_process_group("nccl" if args.device.startswith("cuda") else "gloo")
    device = torch.device(args.device)
    if args.device.startswith("cuda"):
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    return torch.distributed.get_rank(), torch.distributed.get_world_size(), device


def finish(args, rank, net, metadata):
    """--save (on the first process), and the end of the process group."""
    if args.save and rank == 0:
        metadata = dict(metadata, epochs=str(args.epochs))
        metadata.pop("training", None)  # the optimizer state is PyTorch's now, not rnnplay's
        write_safetensors(args.save, net.state_dict(), metadata)
    if args.ddp:
        torch.distributed.destroy_process_group()
