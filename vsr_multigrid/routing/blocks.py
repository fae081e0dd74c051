"""Residual blocks run under per-patch gates, two ways that agree.

``'masked'`` (training): every block runs on the whole frame and its
residual is multiplied by the gate map, so gradients reach the gates.
``'sparse'`` (inference, hard gates): each block runs only on its active
patches, gathered with a halo of 2 (two 3x3 convs) into a dense sub-batch.
Its convs run unpadded ("valid"): the first computes only the patch plus
one pixel, the second only the patch, so a 16-pixel patch costs 1.13x its
share of the whole frame in multiply-adds, not the 1.56x of a padded 20x20
window. The inner activation is zeroed beyond the frame, as the
whole-frame conv's padding would see it; a skipped block is exactly the
identity on its patch. A block with so many active patches that gathering
them would take longer than the whole frame (:func:`sparse_cost`) runs on
the whole frame and keeps its residual where active. On hard gates both
modes give the same result; only the sparse one saves time.
"""
from typing import Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .patches import expand_patch_mask, gather_windows, pad_to_grid, put_windows, window_index

__all__ = ['BLOCK_HALO', 'GATHER_OVERHEAD', 'ROUTING_MODES', 'sparse_cost', 'unit_of',
           'routed_residual_blocks', 'reuse_where_closed']

BLOCK_HALO = 2  # conv3x3 -> ReLU -> conv3x3
ROUTING_MODES = ('masked', 'sparse')


def unit_of(block: int, num_blocks: int, num_units: int) -> int:
    """The unit (decision) that block ``block`` belongs to: consecutive blocks
    share one, as evenly as the counts allow."""
    return block * num_units // num_blocks


#: Wall-clock of a gathered block over its convs' work: gathering the
#: windows, writing the centres back and masking the halo beyond the frame
#: (measured on a 2-core CPU at 64 channels, 16-pixel patches: 1.18-1.25).
GATHER_OVERHEAD = 1.2


def sparse_cost(patch: int) -> float:
    """Cost of one gathered patch relative to its pixels on the whole frame:
    the unpadded first conv computes ``patch + 2`` pixels a side, the second
    ``patch``, times :data:`GATHER_OVERHEAD`. A block whose active patches'
    pixels times this reach the frame's runs on the whole frame instead (same
    result, less time)."""
    return GATHER_OVERHEAD * ((patch + 2) ** 2 + patch ** 2) / (2 * patch ** 2)


def _block(convs: Mapping[str, nn.Conv2d], prefix: str, x: torch.Tensor) -> torch.Tensor:
    return convs[f'{prefix}.conv2'](F.relu(convs[f'{prefix}.conv1'](x)))


def _valid_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``conv`` without its padding: one pixel less on every side."""
    if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.dilation != (1, 1) or \
            conv.padding != (1, 1):
        raise ValueError(f'routed residual blocks: expected 3x3 convs with stride 1 and '
                         f'padding 1, got kernel {conv.kernel_size}, stride {conv.stride}, '
                         f'dilation {conv.dilation}, padding {conv.padding}')
    return F.conv2d(x, conv.weight, conv.bias, groups=conv.groups)


def _window_block(convs: Mapping[str, nn.Conv2d], prefix: str, windows: torch.Tensor,
                  inside: torch.Tensor) -> torch.Tensor:
    """A block's residual on the centres of ``windows`` (``patch + 4`` a side),
    ``(k, c, patch, patch)``; ``inside``: 1 where the windows' pixels lie in
    the frame."""
    inner = F.relu(_valid_conv(convs[f'{prefix}.conv1'], windows))
    # On the whole frame conv2 sees zeros beyond the border (its padding);
    # a window's halo beyond the border holds conv1 outputs instead.
    inner = inner * inside[..., 1:-1, 1:-1]
    return _valid_conv(convs[f'{prefix}.conv2'], inner)


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
        # the whole frame: run it whole (same result, less time).
        self.whole = active.numel() * patch ** 2 * sparse_cost(patch) >= gates.size(0) * h * w
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
            # A contiguous copy: a conv on the strided view of the padded
            # buffer may take another kernel and differ from dense in the
            # last bits (seen on an AMD EPYC host).
            interior += plan.keep * _block(convs, prefix, interior.contiguous())
            continue
        windows = gather_windows(padded, plan.windows)
        crop = (slice(None), slice(None), slice(BLOCK_HALO, -BLOCK_HALO),
                slice(BLOCK_HALO, -BLOCK_HALO))
        # The residual is zeroed where a patch overhangs the frame, so the
        # padding stays zero for the next block's halos.
        out = _window_block(convs, prefix, windows, plan.inside)
        put_windows(padded, plan.centres, windows[crop] + out * plan.inside[crop])
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
