"""Keeping small updates of bf16 weights: Kahan-compensated AdamW, and the trainer's choice of it.

A bf16 weight has 8 significant bits: an update smaller than half its spacing (about |w| * 2^-9,
4e-5 for a typical |w| = 0.02) is rounded away when it is added in bf16. At the authors' lr 1e-6 a
plain AdamW on bf16 weights (TRL `optim: adamw_torch` with `model_dtype: bfloat16` on one GPU)
therefore leaves almost every weight exactly where it was. ZeRO and FSDP with bf16 mixed precision
keep fp32 master weights, so only a launch without them needs this.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import torch

from ivgr.errors import ConfigError

logger = logging.getLogger(__name__)

BF16_MASTER = ("kahan", "fp32", "off")
PLAIN_ADAMW = ("adamw_torch", "adamw_torch_fused")


class KahanAdamW(torch.optim.Optimizer):
    """AdamW (decoupled weight decay) whose weight update carries a Kahan compensation buffer.

    Per step, with m, v the usual Adam moments and c the buffer (all in the parameter's dtype, as
    the authors' AnyPrecisionAdamW with EasyR1's `strategy: adamw_bf16`):

        c += -lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) - lr * wd * w
        w' = round(w + c);  c -= w' - w        # what rounding dropped stays in c for the next step

    so the weight moves once the accumulated update exceeds half its bf16 spacing. On fp32 weights
    c ends every step at 0 and this is plain AdamW.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ConfigError(f"KahanAdamW: invalid lr={lr}, betas={betas}, eps={eps} or weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["compensation"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = float(state["step"])
                grad = p.grad.to(p.dtype)
                m, v, c = state["exp_avg"], state["exp_avg_sq"], state["compensation"]
                m.lerp_(grad, 1.0 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                denom = (v.sqrt() / math.sqrt(1.0 - beta2**t)).add_(eps)
                c.addcdiv_(m, denom, value=-lr / (1.0 - beta1**t))
                if decay:
                    c.add_(p, alpha=-lr * decay)
                before = p.clone()
                p.add_(c)
                c.add_(before.sub_(p))  # c -= (applied change)
        return loss


def bf16_update_plan(args: Any, params: list[torch.nn.Parameter], *, sharded_master: bool) -> str | None:
    """What the trainer does so a bf16 model keeps its small updates: "kahan", "fp32" or None (nothing).

    Nothing when no trainable weight is bf16, when ZeRO/FSDP keeps fp32 masters (`sharded_master`),
    or when `args.bf16_master` is "off". "kahan" swaps only TRL's plain AdamW (`optim` adamw_torch /
    adamw_torch_fused); another `optim` is the user's explicit choice and is kept, with a warning.
    """
    mode = getattr(args, "bf16_master", "kahan")  # IvgrTrainConfig checks it is one of BF16_MASTER
    if sharded_master or mode == "off" or not any(p.dtype == torch.bfloat16 for p in params if p.requires_grad):
        return None
    optim = getattr(args.optim, "value", args.optim)
    if mode == "kahan" and optim not in PLAIN_ADAMW:
        logger.warning("weights are bf16 and optim=%s: small updates may round away (bf16_master: fp32 keeps "
                       "fp32 master weights)", optim)
        return None
    return mode


__all__ = ["BF16_MASTER", "KahanAdamW", "bf16_update_plan"]
