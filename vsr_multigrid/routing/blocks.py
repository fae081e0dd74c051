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

from .patches import expand_patch_mask, gather_windows, pad_to_grid, put_windows, window_index

__all__ = ['BLOCK_HALO', 'ROUTING_MODES', 'sparse_cost', 'unit_of', 'routed_residual_blocks',
           'reuse_where_closed']

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


class _UnitPlan:
    """Where one unit's blocks run in ``'sparse'`` mode; consecutive blocks
    sharing a unit share its plan (indices and masks made once).

    ``whole``: run on the whole frame and keep the residual where ``keep``;
    else ``windows``/``centres``: the active patches' windows (with halo)
    and centres in the padded map, ``inside``: 1 where a window lies in the
    frame."""

    def __init__(self, gates: torch.Tensor, patch: int, frame_padded: torch.Tensor,
                 frame_size, dtype: torch.dtype):
        h, w = frame_size
        gh, gw = gates.shape[1:]
        active = gates.reshape(-1).nonzero().flatten()
        self.empty = active.numel() == 0
        # Gathering this many patches with their halos would cost more than
        # the whole frame: run it whole (same result, less work).
        self.whole = active.numel() * sparse_cost(patch) >= gates.numel()
        if self.empty:
            return
        if self.whole:
            self.keep = expand_patch_mask(gates[:, None].to(dtype), patch, h, w)
            return
        grid = (gh, gw)
        self.windows = window_index(active, grid, patch, patch + 2 * BLOCK_HALO)
        self.centres = window_index(active, grid, patch, patch, offset=BLOCK_HALO)
        self.inside = gather_windows(frame_padded, self.windows)


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
    if gates is None:
        for k in range(num_blocks):
            feat = feat + _block(convs, f'{branch}.block{k}', feat)
        return feat
    if mode == 'masked':
        mask = expand_patch_mask(gates, patch, h, w)
        for k in range(num_blocks):
            unit = unit_of(k, num_blocks, gates.size(1))
            feat = feat + mask[:, unit:unit + 1] * _block(convs, f'{branch}.block{k}', feat)
        return feat
    # Sparse: the feature lives in one padded buffer for all blocks; each
    # block reads its active windows and writes their centres back in place,
    # so the work per block follows the active patches, not the frame.
    padded = pad_to_grid(feat, patch, BLOCK_HALO)
    interior = padded[:, :, BLOCK_HALO:BLOCK_HALO + h, BLOCK_HALO:BLOCK_HALO + w]
    frame_padded = pad_to_grid(feat.new_ones(n, 1, h, w), patch, BLOCK_HALO)
    plans = {}
    for k in range(num_blocks):
        prefix, unit = f'{branch}.block{k}', unit_of(k, num_blocks, gates.size(1))
        if unit not in plans:
            plans[unit] = _UnitPlan(gates[:, unit], patch, frame_padded, (h, w), feat.dtype)
        plan = plans[unit]
        if plan.empty:
            continue
        if plan.whole:
            interior += plan.keep * _block(convs, prefix, interior)
            continue
        windows = gather_windows(padded, plan.windows)
        centre = windows[:, :, BLOCK_HALO:-BLOCK_HALO, BLOCK_HALO:-BLOCK_HALO]
        # The residual is zeroed where a patch overhangs the frame, so the
        # padding stays zero for the next block's halos.
        out = _block(convs, prefix, windows, plan.inside)
        crop = (slice(None), slice(None), slice(BLOCK_HALO, -BLOCK_HALO),
                slice(BLOCK_HALO, -BLOCK_HALO))
        put_windows(padded, plan.centres, centre + out[crop] * plan.inside[crop])
    return interior.contiguous()


def reuse_where_closed(feat: torch.Tensor, aligned: torch.Tensor, gates: torch.Tensor,
                       patch: int) -> torch.Tensor:
    """``feat`` with every patch whose units are all closed taken from
    ``aligned`` (the previous frame's hidden state warped to this one).

    Args:
        feat: ``(n, c, h, w)``, the blocks' output.
        aligned: ``(n, c, h, w)``.
        gates: ``(n, units, gh, gw)``: bool (hard), or straight-through
            values in [0, 1] (training: the product of the closed shares
            carries the gates' gradient).
    """
    if aligned.shape != feat.shape:
        raise ValueError(f'reuse: the aligned hidden state {tuple(aligned.shape)} does not '
                         f'match the feature {tuple(feat.shape)}')
    h, w = feat.shape[2:]
    if gates.dtype == torch.bool:  # exact: a reused patch is the aligned state itself
        closed = (~gates).all(dim=1, keepdim=True)
        return torch.where(expand_patch_mask(closed, patch, h, w), aligned, feat)
    closed = (1 - gates).prod(dim=1, keepdim=True)
    return feat + expand_patch_mask(closed, patch, h, w) * (aligned - feat)
