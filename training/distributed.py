"""Multi-process training under ``torchrun`` (gloo on CPU, nccl on GPU).

Every method trains the same way whether it runs alone or under torchrun: parameters are
broadcast from rank 0 at the start and gradients are averaged after each backward pass.
Averaging gradients by hand (instead of wrapping in DistributedDataParallel) lets methods
with unusual steps, such as GraSS's gradient-only first pass, work unchanged.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a torchrun job; the defaults are a single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False    # the group was made by init_distributed (and is destroyed by shutdown)

    @property
    def enabled(self) -> bool:
        """More than one process: gradients and statistics must be shared."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0, the only process that logs and writes files."""
        return self.rank == 0


def init_distributed(device: torch.device) -> DistributedContext:
    """Join the process group torchrun describes in the environment; single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext()
    owns_group = not dist.is_initialized()
    if owns_group:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    ctx = DistributedContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns_group)
    if device.type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
    return ctx


def local_device(device: torch.device, ctx: DistributedContext) -> torch.device:
    """Each process on its own GPU (LOCAL_RANK) when training on CUDA."""
    if device.type == "cuda" and ctx.enabled:
        return torch.device("cuda", ctx.local_rank)
    return device


def broadcast_module(module: nn.Module, ctx: DistributedContext) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if not ctx.enabled:
        return
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(module: nn.Module, ctx: DistributedContext) -> None:
    """Mean of each parameter's gradient over processes (after backward, before step).

    A parameter may get a gradient on one process and none on another (SDCluster's slot
    contrast skips its predictor when no prototype is shared by a batch's two views). Each
    process must run the same all-reduces in the same order or they wait on each other for
    ever, so which parameters have a gradient anywhere is agreed first; those lacking one
    locally contribute zeros, and parameters no process touched keep ``grad = None``.
    """
    if not ctx.enabled:
        return
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        return
    device = params[0].device
    has_grad = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=device)
    dist.all_reduce(has_grad, op=dist.ReduceOp.SUM)
    for param, anywhere in zip(params, has_grad.tolist()):
        if not anywhere:
            continue
        if param.grad is None:
            param.grad = torch.zeros_like(param)
        dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
        param.grad /= ctx.world_size


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """In-place sum over processes (a no-op when alone); returns the tensor."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_cat(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor's first dimension over processes (no gradient through others)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    parts[dist.get_rank()] = tensor
    return torch.cat(parts, dim=0)


def barrier(ctx: DistributedContext) -> None:
    """Wait for every process (e.g. until rank 0 has written a file the others read)."""
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: DistributedContext) -> None:
    """Leave the process group if this run made it; a caller's own group stays theirs.

    Destroying and re-creating a group under one torchrun store can leave one process
    waiting in the second rendezvous for ever (seen in the SDCluster DDP test), so a
    script that needs the group after training makes it first and keeps it.
    """
    if ctx.enabled and ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
