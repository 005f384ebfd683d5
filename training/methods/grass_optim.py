"""SGD with LARS/LARC layer-wise learning rates, as GraSS's configuration uses.

The authors train with VISSL's ``sgd`` + ``use_larc: True`` (apex LARC, ``clip: False``,
trust coefficient 0.001, eps 1e-8): before a plain momentum-SGD step, each parameter's
gradient (with weight decay added) is rescaled by

    trust * ||w|| / (||g|| + weight_decay * ||w|| + eps)

so every layer moves by about the same fraction of its norm whatever its gradient scale,
which is what lets SimCLR train with large batches and learning rates.
"""
from __future__ import annotations

import torch


class LARS(torch.optim.Optimizer):
    """Momentum SGD whose per-parameter step is scaled by the LARC trust ratio.

    Parameters whose norm or gradient norm is zero (e.g. a freshly zeroed BatchNorm
    weight) take the plain SGD step, as apex LARC does.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 trust_coefficient: float = 0.001, eps: float = 1e-8) -> None:
        if lr < 0:
            raise ValueError(f"LEARNING_RATE must be positive, got {lr}")
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                        trust_coefficient=trust_coefficient, eps=eps)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """SGD step with each layer's rate scaled by its trust ratio (LARC, as the authors' code)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            wd, trust, eps = group["weight_decay"], group["trust_coefficient"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                w_norm = torch.linalg.vector_norm(p)
                g_norm = torch.linalg.vector_norm(grad)
                ratio = trust * w_norm / (g_norm + wd * w_norm + eps)
                ratio = torch.where((w_norm > 0) & (g_norm > 0), ratio, torch.ones_like(ratio))
                update = (grad + wd * p) * ratio
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = update.clone()
                else:
                    buf.mul_(group["momentum"]).add_(update)
                p.add_(buf, alpha=-group["lr"])
        return loss
