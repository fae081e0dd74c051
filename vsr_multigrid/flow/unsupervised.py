"""Unsupervised flow pretraining: photometric loss on real frame pairs.

No pretrained SPyNet can be downloaded on a closed machine, and one trained
from scratch inside BasicVSR gets only the weak signal of the SR loss. This
trains any flow network ``flow_net(ref, supp) -> flow`` (SPyNet's contract:
``flow`` maps ``ref`` pixels to ``supp``, so ``warp(supp, flow) ~ ref``) on
consecutive frames with a masked Charbonnier photometric loss plus a
first-order smoothness term, the classic unsupervised recipe (e.g. Jason et
al., "Back to Basics", 2016; UnFlow, 2018).
"""
from typing import Callable, Iterator, Tuple

import torch
import torch.nn.functional as F

from .fit import fit_adam

__all__ = ['warp', 'photometric_loss', 'smoothness_loss', 'flow_loss', 'pretrain_flow']


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward-warp ``image`` (n, c, h, w) by ``flow`` (n, 2, h, w) in pixels.

    Same convention as MMagic's ``flow_warp`` (bilinear, ``align_corners=True``,
    zeros outside the frame).
    """
    n, _, h, w = image.shape
    grid_y, grid_x = torch.meshgrid(
        torch.arange(h, device=image.device, dtype=image.dtype),
        torch.arange(w, device=image.device, dtype=image.dtype), indexing='ij')
    x = grid_x + flow[:, 0]
    y = grid_y + flow[:, 1]
    grid = torch.stack((2.0 * x / max(w - 1, 1) - 1.0, 2.0 * y / max(h - 1, 1) - 1.0), dim=3)
    return F.grid_sample(image, grid, mode='bilinear', padding_mode='zeros',
                         align_corners=True)


def _charbonnier(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt(x * x + eps * eps)


def photometric_loss(ref: torch.Tensor, supp: torch.Tensor,
                     flow: torch.Tensor) -> torch.Tensor:
    """Charbonnier distance of ``ref`` to ``supp`` warped by ``flow``, over the
    pixels whose source lies inside the frame."""
    warped = warp(supp, flow)
    valid = (warp(torch.ones_like(supp[:, :1]), flow) > 0.999).to(ref.dtype)
    return (_charbonnier(warped - ref) * valid).sum() / (valid.sum() * ref.shape[1] + 1e-6)


def smoothness_loss(flow: torch.Tensor) -> torch.Tensor:
    """Mean absolute first-order difference of the flow field."""
    dx = flow[:, :, :, 1:] - flow[:, :, :, :-1]
    dy = flow[:, :, 1:, :] - flow[:, :, :-1, :]
    return dx.abs().mean() + dy.abs().mean()


def flow_loss(flow_net: Callable, ref: torch.Tensor, supp: torch.Tensor,
              smoothness: float = 0.05) -> Tuple[torch.Tensor, torch.Tensor]:
    """(total loss, photometric part) of one batch of frame pairs in [0, 1]."""
    flow = flow_net(ref, supp)
    photometric = photometric_loss(ref, supp, flow)
    return photometric + smoothness * smoothness_loss(flow), photometric


def pretrain_flow(flow_net: torch.nn.Module, pairs: Iterator[Tuple[torch.Tensor, torch.Tensor]],
                  iterations: int, lr: float = 1e-4, smoothness: float = 0.05,
                  log: Callable = print, log_every: int = 100) -> list:
    """Train ``flow_net`` with Adam on ``iterations`` batches from ``pairs``.

    Returns:
        list[float]: The photometric loss of every iteration.
    """
    flow_net.train()
    return fit_adam(flow_net.parameters(), pairs, iterations,
                    lambda pair: flow_loss(flow_net, pair[0], pair[1], smoothness), lr,
                    label='photometric loss', log=log, log_every=log_every)
