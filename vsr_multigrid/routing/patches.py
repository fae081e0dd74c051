"""A feature map as a grid of square patches: gather active patches with a
halo into one dense sub-batch, scatter their centres back.

Frames whose size is not a multiple of the patch are zero-padded to one
(the padding lies outside the frame, where a 3x3 conv with zero padding sees
zeros too), so a layer stack whose receptive field fits in the halo gives,
on every gathered patch's centre, exactly what it gives on the whole frame.
"""
import math
from typing import Tuple

import torch
import torch.nn.functional as F

__all__ = ['patch_grid', 'gather_patches', 'scatter_patches', 'expand_patch_mask']


def patch_grid(height: int, width: int, patch: int) -> Tuple[int, int]:
    """Patches per column and per row (the last ones may overhang the frame)."""
    if not isinstance(patch, int) or patch < 1:
        raise ValueError(f'patch size: expected a positive int, got {patch!r}')
    return math.ceil(height / patch), math.ceil(width / patch)


def _windows(index: torch.Tensor, grid: Tuple[int, int], patch: int, size: int):
    """Batch, row and column indices of each indexed patch's window of ``size``."""
    per_frame = grid[0] * grid[1]
    batch = index // per_frame
    row, col = (index % per_frame) // grid[1], index % grid[1]
    offsets = torch.arange(size, device=index.device)
    rows = (row * patch).unsqueeze(1) + offsets  # (k, size), in padded coordinates
    cols = (col * patch).unsqueeze(1) + offsets
    return batch, rows, cols


def gather_patches(feat: torch.Tensor, index: torch.Tensor, patch: int,
                   halo: int) -> torch.Tensor:
    """The indexed patches with ``halo`` pixels around each, as a dense batch.

    Args:
        feat: ``(n, c, h, w)``.
        index: Flat patch indices in ``[0, n * gh * gw)`` (frame-major, then
            row-major over the :func:`patch_grid`).
        patch: Patch size; ``halo``: pixels added on every side (zeros
            outside the frame).

    Returns:
        ``(k, c, patch + 2 * halo, patch + 2 * halo)``.
    """
    n, c, h, w = feat.shape
    grid = patch_grid(h, w, patch)
    padded = F.pad(feat, (halo, grid[1] * patch - w + halo, halo, grid[0] * patch - h + halo))
    batch, rows, cols = _windows(index, grid, patch, patch + 2 * halo)
    # Advanced indexing (k, size, size, c): one gather for all patches.
    out = padded.permute(0, 2, 3, 1)[batch[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)


def scatter_patches(feat: torch.Tensor, index: torch.Tensor, values: torch.Tensor,
                    patch: int) -> torch.Tensor:
    """``feat`` with the indexed patches replaced by ``values`` (centres only).

    Args:
        feat: ``(n, c, h, w)``; not modified.
        index: As :func:`gather_patches`.
        values: ``(k, c, patch, patch)``: the new content of each patch (the
            part overhanging the frame is dropped).
    """
    n, c, h, w = feat.shape
    gh, gw = patch_grid(h, w, patch)
    padded = F.pad(feat, (0, gw * patch - w, 0, gh * patch - h))
    tiles = padded.view(n, c, gh, patch, gw, patch).permute(0, 2, 4, 1, 3, 5) \
        .reshape(n * gh * gw, c, patch, patch)
    tiles = tiles.index_copy(0, index, values.to(tiles.dtype))
    out = tiles.view(n, gh, gw, c, patch, patch).permute(0, 3, 1, 4, 2, 5) \
        .reshape(n, c, gh * patch, gw * patch)
    return out[:, :, :h, :w]


def expand_patch_mask(mask: torch.Tensor, patch: int, height: int, width: int) -> torch.Tensor:
    """A per-patch map ``(n, u, gh, gw)`` as a per-pixel one ``(n, u, height, width)``."""
    return mask.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)[
        :, :, :height, :width]
