"""Residual blocks run under per-patch gates, two ways that agree.

``'masked'`` (training): every block runs on the whole frame and its
residual is multiplied by the gate map, so gradients reach the gates.
``'sparse'`` (inference, hard gates): each block runs only on its active
patches, gathered with a halo of 2 (two 3x3 convs) into a dense sub-batch,
the inner activation zeroed beyond the frame as the whole-frame conv's
padding would;
a skipped block is exactly the identity on its patch. A block with so many
active patches that their halos would cost more than the whole frame
(:func:`sparse_cost`) runs on the whole frame and keeps its residual where
active. On hard gates both modes give the same result; only the sparse one
saves time.
"""
from typing import Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .patches import expand_patch_mask, gather_patches, scatter_patches

__all__ = ['BLOCK_HALO', 'ROUTING_MODES', 'sparse_cost', 'unit_of', 'routed_residual_blocks']

BLOCK_HALO = 2  # conv3x3 -> ReLU -> conv3x3
ROUTING_MODES = ('masked', 'sparse')


def unit_of(block: int, num_blocks: int, num_units: int) -> int:
    """The unit (decision) that block ``block`` belongs to: consecutive blocks
    share one, as evenly as the counts allow."""
    return block * num_units // num_blocks


def sparse_cost(patch: int, halo: int = BLOCK_HALO) -> float:
    """Work of one gathered patch relative to its share of the whole frame:
    the halo makes a ``patch``-pixel window ``(patch + 2 * halo)`` wide. A
    block whose active share of the frame exceeds ``1 / sparse_cost`` runs on
    the whole frame instead (same result, less work)."""
    return ((patch + 2 * halo) / patch) ** 2


def _block(convs: Mapping[str, nn.Conv2d], prefix: str, x: torch.Tensor,
           inside: Optional[torch.Tensor] = None) -> torch.Tensor:
    inner = F.relu(convs[f'{prefix}.conv1'](x))
    if inside is not None:
        # On the whole frame conv2 sees zeros beyond the border (its padding);
        # a window's halo beyond the border holds conv1 outputs instead.
        inner = inner * inside
    return convs[f'{prefix}.conv2'](inner)


def routed_residual_blocks(convs: Mapping[str, nn.Conv2d], branch: str, num_blocks: int,
                           feat: torch.Tensor, gates: Optional[torch.Tensor], patch: int,
                           mode: str) -> torch.Tensor:
    """A branch's residual blocks (roles ``<branch>.block<k>.conv1/2``) under gates.

    Args:
        feat: ``(n, c, h, w)``, the input conv's output.
        gates: ``(n, units, gh, gw)`` gate values (``'masked'``: any in
            [0, 1]; ``'sparse'``: bool) or None to run every block everywhere.
        patch: Patch size the gates were made for.
        mode: ``'masked'`` or ``'sparse'``.
    """
    if mode not in ROUTING_MODES:
        raise ValueError(f'routing mode: expected one of {ROUTING_MODES}, got {mode!r}')
    n, c, h, w = feat.shape
    if gates is not None and mode == 'masked':
        mask = expand_patch_mask(gates, patch, h, w)
    frame = feat.new_ones(n, 1, h, w)
    for k in range(num_blocks):
        prefix = f'{branch}.block{k}'
        if gates is None:
            feat = feat + _block(convs, prefix, feat)
            continue
        unit = unit_of(k, num_blocks, gates.size(1))
        if mode == 'masked':
            feat = feat + mask[:, unit:unit + 1] * _block(convs, prefix, feat)
            continue
        active = gates[:, unit].reshape(-1).nonzero().flatten()
        if active.numel() == 0:
            continue
        if active.numel() * sparse_cost(patch) >= gates[:, unit].numel():
            # Gathering these patches with their halos costs more than the
            # whole frame: run it whole and keep the residual where active.
            keep = expand_patch_mask(gates[:, unit:unit + 1].to(feat.dtype), patch, h, w)
            feat = feat + keep * _block(convs, prefix, feat)
            continue
        windows = gather_patches(feat, active, patch, BLOCK_HALO)
        inside = gather_patches(frame, active, patch, BLOCK_HALO)
        centre = windows[:, :, BLOCK_HALO:-BLOCK_HALO, BLOCK_HALO:-BLOCK_HALO]
        out = _block(convs, prefix, windows, inside)[:, :, BLOCK_HALO:-BLOCK_HALO,
                                                     BLOCK_HALO:-BLOCK_HALO]
        feat = scatter_patches(feat, active, centre + out, patch)
    return feat
