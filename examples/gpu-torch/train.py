"""A small real PyTorch training run for the GPU rig: an MLP on a seeded synthetic 20-class problem.

Run plainly (one GPU) or under torchrun (DistributedDataParallel over NCCL, one process per GPU);
rank 0 writes the metrics JSON that reproduce.toml names.
"""

import argparse
import json
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn


def make_data(n: int, dim: int = 64, classes: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian clusters around fixed random centres: learnable, not trivial (noise overlaps the classes)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g) * 1.5
    y = torch.randint(0, classes, (n,), generator=g)
    x = centres[y] + torch.randn(n, dim, generator=g) * 3.0
    return x, y


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=512)
    args = p.parse_args()

    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("nccl")
        rank, world = dist.get_rank(), dist.get_world_size()
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    else:
        rank, world = 0, 1
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible")
    device = torch.device("cuda", torch.cuda.current_device())

    x, y = make_data(120_000)
    x_train, y_train, x_test, y_test = x[:100_000], y[:100_000], x[100_000:], y[100_000:]
    shard = slice(rank, None, world)
    x_train, y_train = x_train[shard].to(device), y_train[shard].to(device)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 20)).to(device)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()

    torch.cuda.synchronize()
    t0 = time.perf_counter()
    seen = 0
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x_train), device=device)
        for i in range(0, len(perm), args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            seen += len(idx)
        if rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs} loss {loss.item():.4f}", flush=True)
    torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0

    if rank == 0:
        with torch.no_grad():
            pred = model(x_test.to(device)).argmax(1).cpu()
        accuracy = (pred == y_test).float().mean().item()
        metrics = {"accuracy": round(accuracy, 4), "train_seconds": round(elapsed, 3),
                   "samples_per_s": round(seen * world / elapsed, 1), "world_size": world}
        print(f"{torch.cuda.get_device_name(device)}: {metrics}", flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(metrics))
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
