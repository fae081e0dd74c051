"""Supervised flow pretraining on real frames warped by known synthetic flows.

The photometric recipe (:mod:`vsr_multigrid.flow.unsupervised`) stays at
zero flow on small LR frames: their motion is mostly sub-pixel and the
photometric signal is too weak to leave identity. Here every training pair
has an exact target instead, as in FlyingChairs-style pretraining (Dosovitskiy
et al., 2015; SPyNet itself was first trained on Chairs): a real frame is the
supporting frame, a random smooth flow with a moving foreground region is
drawn, and the reference frame is the supporting frame's full source image
sampled along that flow, so ``warp(supp, flow) == ref`` wherever the flow
points inside ``supp``. The loss is the end-point error on those pixels.

Plain torch; ``flow_net(ref, supp) -> flow`` is SPyNet's contract (flow in
pixels, ``x`` then ``y``).
"""
from typing import Callable, Iterator, Optional, Tuple

import torch
import torch.nn.functional as F

from .fit import fit_adam

__all__ = ['random_flow', 'sample_along_flow', 'synthetic_pair', 'endpoint_error',
           'pretrain_flow_supervised']


def _uniform(shape, low, high, generator):
    return low + (high - low) * torch.rand(shape, generator=generator)


def random_flow(n: int, h: int, w: int, max_motion: float,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Random flows (n, 2, h, w) in pixels, each at most about ``max_motion``.

    Each flow is the sum of a global affine motion (translation, rotation and
    zoom about the centre), a smooth non-rigid field (a random 3x3 grid of
    vectors, bicubically upsampled) and, in half of the samples, a rectangle
    that moves by its own translation (a motion boundary).
    """
    if max_motion <= 0:
        raise ValueError(f'max_motion must be > 0, got {max_motion}')
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32) - (h - 1) / 2,
                            torch.arange(w, dtype=torch.float32) - (w - 1) / 2, indexing='ij')
    radius = max(h, w) / 2
    shift = _uniform((n, 2, 1, 1), -max_motion, max_motion, generator) * 0.6
    # Rotation and zoom move a pixel at the border by at most 0.25 max_motion.
    angle = _uniform((n, 1, 1), -1, 1, generator) * 0.25 * max_motion / radius
    zoom = _uniform((n, 1, 1), -1, 1, generator) * 0.25 * max_motion / radius
    affine = torch.stack((zoom * xs - angle * ys, angle * xs + zoom * ys), dim=1)
    coarse = _uniform((n, 2, 3, 3), -1, 1, generator) * 0.2 * max_motion
    smooth = F.interpolate(coarse, size=(h, w), mode='bicubic', align_corners=True)
    flow = shift + affine + smooth
    for i in range(n):
        if torch.rand((), generator=generator) < 0.5:
            continue
        bh = int(_uniform((), 0.25, 0.6, generator) * h)
        bw = int(_uniform((), 0.25, 0.6, generator) * w)
        top = int(torch.randint(0, h - bh + 1, (), generator=generator))
        left = int(torch.randint(0, w - bw + 1, (), generator=generator))
        own = _uniform((2, 1, 1), -max_motion, max_motion, generator) * 0.6
        flow[i, :, top:top + bh, left:left + bw] = own
    return flow


def sample_along_flow(source: torch.Tensor, flow: torch.Tensor, top: int,
                      left: int) -> torch.Tensor:
    """Bilinearly sample ``source`` (c, H, W) at ``(top + y, left + x) + flow``.

    ``flow`` is (2, h, w); the result (c, h, w) is what a crop of ``source`` at
    (top, left) becomes when it is backward-warped by ``flow`` with pixels
    outside the crop taken from the rest of ``source`` (zeros outside it).
    Same convention as MMagic's ``flow_warp`` (``align_corners=True``).
    """
    _, big_h, big_w = source.shape
    _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=source.dtype) + top,
                            torch.arange(w, dtype=source.dtype) + left, indexing='ij')
    x = xs + flow[0]
    y = ys + flow[1]
    grid = torch.stack((2 * x / max(big_w - 1, 1) - 1, 2 * y / max(big_h - 1, 1) - 1), dim=2)
    return F.grid_sample(source[None], grid[None], mode='bilinear', padding_mode='zeros',
                         align_corners=True)[0]


def synthetic_pair(frame: torch.Tensor, crop: int, max_motion: float,
                   generator: Optional[torch.Generator] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One training sample from a real frame (3, H, W) in [0, 1].

    Returns:
        (ref, supp, flow, valid): ``supp`` is a ``crop`` x ``crop`` crop of
        ``frame``; ``ref`` samples ``frame`` along ``flow`` from the crop's
        place; ``valid`` (1, crop, crop) marks the pixels whose match lies
        inside ``supp``, the only ones a flow network can be asked to find.

    Raises:
        ValueError: the frame is smaller than the crop.
    """
    _, h, w = frame.shape
    if h < crop or w < crop:
        raise ValueError(f'frame of {h}x{w} px is smaller than the crop {crop}')
    top = int(torch.randint(0, h - crop + 1, (), generator=generator))
    left = int(torch.randint(0, w - crop + 1, (), generator=generator))
    flow = random_flow(1, crop, crop, max_motion, generator)[0]
    supp = frame[:, top:top + crop, left:left + crop]
    ref = sample_along_flow(frame, flow, top, left)
    ys, xs = torch.meshgrid(torch.arange(crop, dtype=flow.dtype),
                            torch.arange(crop, dtype=flow.dtype), indexing='ij')
    x = xs + flow[0]
    y = ys + flow[1]
    valid = ((x >= 0) & (x <= crop - 1) & (y >= 0) & (y <= crop - 1)).to(frame.dtype)[None]
    return ref, supp, flow, valid


def endpoint_error(flow: torch.Tensor, target: torch.Tensor,
                   valid: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean Euclidean distance between flows (n, 2, h, w) over ``valid`` pixels."""
    error = torch.sqrt(((flow - target) ** 2).sum(dim=1, keepdim=True) + 1e-9)
    if valid is None:
        return error.mean()
    return (error * valid).sum() / valid.sum().clamp(min=1)


def pretrain_flow_supervised(
        flow_net: torch.nn.Module,
        batches: Iterator[Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]],
        iterations: int, lr: float = 1e-4, log: Callable = print,
        log_every: int = 100) -> list:
    """Train ``flow_net`` with Adam (cosine LR) on end-point error.

    Args:
        batches: Endless (ref, supp, flow, valid) batches.

    Returns:
        list[float]: The end-point error of every iteration.
    """
    flow_net.train()

    def loss_fn(batch):
        ref, supp, target, valid = batch
        error = endpoint_error(flow_net(ref, supp), target, valid)
        return error, error

    return fit_adam(flow_net.parameters(), batches, iterations, loss_fn, lr, cosine=True,
                    label='end-point error (px)', log=log, log_every=log_every)
