"""The Adam loop shared by the flow pretraining objectives."""
import math
from typing import Callable, Iterator, Tuple

import torch

__all__ = ['fit_adam']


def fit_adam(parameters, batches: Iterator, iterations: int,
             loss_fn: Callable[[object], Tuple[torch.Tensor, torch.Tensor]],
             lr: float, cosine: bool = False, label: str = 'loss',
             log: Callable = print, log_every: int = 100) -> list:
    """Minimise ``loss_fn(batch)`` with Adam over ``iterations`` batches.

    Args:
        parameters: What Adam optimises.
        batches: Endless iterator of batches, passed to ``loss_fn`` as is.
        loss_fn: ``batch -> (loss to minimise, value to record)``.
        lr: Adam's learning rate (the peak one with ``cosine``).
        cosine: Anneal the LR to zero over ``iterations`` (cosine).
        label: Name of the recorded value in the log lines.

    Returns:
        list[float]: The recorded value of every iteration.
    """
    optimizer = torch.optim.Adam(parameters, lr=lr)
    history = []
    for step in range(iterations):
        if cosine:
            for group in optimizer.param_groups:
                group['lr'] = lr * 0.5 * (1 + math.cos(math.pi * step / iterations))
        loss, recorded = loss_fn(next(batches))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(recorded.item())
        if log_every and (step + 1) % log_every == 0:
            recent = history[-log_every:]
            log(f'iteration {step + 1}/{iterations}: {label} {sum(recent) / len(recent):.4f}')
    return history
