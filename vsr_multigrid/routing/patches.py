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

__all__ = ['patch_grid', 'patch_areas', 'pad_to_grid', 'window_index', 'gather_windows', 'put_windows',
           'gather_patches', 'scatter_patches', 'expand_patch_mask']


def patch_grid(height: int, width: int, patch: int) -> Tuple[int, int]:
    """Patches per column and per row (the last ones may overhang the frame)."""
    if not isinstance(patch, int) or patch < 1:
        raise ValueError(f'patch size: expected a positive int, got {patch!r}')
    return math.ceil(height / patch), math.ceil(width / patch)


def patch_areas(height: int, width: int, patch: int, device=None) -> torch.Tensor:
    """Pixels of each patch inside a ``height x width`` frame, ``(gh, gw)``
    float: the last row and column of patches are partial where ``patch``
    does not divide the frame."""
    gh, gw = patch_grid(height, width, patch)
    rows = torch.full((gh,), float(patch), device=device)
    cols = torch.full((gw,), float(patch), device=device)
    rows[-1] = height - patch * (gh - 1)
    cols[-1] = width - patch * (gw - 1)
    return rows[:, None] * cols[None, :]


def pad_to_grid(feat: torch.Tensor, patch: int, halo: int) -> torch.Tensor:
    """``feat`` zero-padded by ``halo`` on every side and to whole patches,
    in channels-last memory: a window's pixels are contiguous runs of
    channels, so gathering and writing back are cheap per pixel."""
    n, c, h, w = feat.shape
    gh, gw = patch_grid(h, w, patch)
    padded = F.pad(feat, (halo, gw * patch - w + halo, halo, gh * patch - h + halo))
    return padded.contiguous(memory_format=torch.channels_last)


def window_index(index: torch.Tensor, grid: Tuple[int, int], patch: int, size: int,
                 offset: int = 0):
    """Advanced indices (batch, rows, cols) of each indexed patch's window of
    ``size`` pixels starting ``offset`` pixels into the patch, in the
    coordinates of :func:`pad_to_grid` (index into the ``(n, h, w, c)``
    view: see :func:`gather_windows`)."""
    per_frame = grid[0] * grid[1]
    batch = index // per_frame
    row, col = (index % per_frame) // grid[1], index % grid[1]
    offsets = torch.arange(size, device=index.device) + offset
    rows = (row * patch).unsqueeze(1) + offsets  # (k, size)
    cols = (col * patch).unsqueeze(1) + offsets
    return batch[:, None, None], rows[:, :, None], cols[:, None, :]


def gather_windows(padded: torch.Tensor, where) -> torch.Tensor:
    """The windows ``where`` (:func:`window_index`) of a padded map, as a
    dense batch ``(k, c, size, size)``: one gather for all patches."""
    return padded.permute(0, 2, 3, 1)[where].permute(0, 3, 1, 2)


def put_windows(padded: torch.Tensor, where, values: torch.Tensor) -> None:
    """Write ``values`` ``(k, c, size, size)`` into the windows ``where`` of
    ``padded``, in place (windows must not overlap)."""
    padded.permute(0, 2, 3, 1)[where] = values.permute(0, 2, 3, 1).to(padded.dtype)


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
    grid = patch_grid(feat.size(2), feat.size(3), patch)
    return gather_windows(pad_to_grid(feat, patch, halo),
                          window_index(index, grid, patch, patch + 2 * halo))


def scatter_patches(feat: torch.Tensor, index: torch.Tensor, values: torch.Tensor,
                    patch: int) -> torch.Tensor:
    """``feat`` with the indexed patches replaced by ``values`` (centres only).

    Args:
        feat: ``(n, c, h, w)``; not modified.
        index: As :func:`gather_patches`.
        values: ``(k, c, patch, patch)``: the new content of each patch (the
            part overhanging the frame is dropped).
    """
    h, w = feat.shape[2:]
    padded = pad_to_grid(feat, patch, 0)
    put_windows(padded, window_index(index, patch_grid(h, w, patch), patch, patch), values)
    return padded[:, :, :h, :w]


def expand_patch_mask(mask: torch.Tensor, patch: int, height: int, width: int) -> torch.Tensor:
    """A per-patch map ``(n, u, gh, gw)`` as a per-pixel one ``(n, u, height, width)``."""
    return mask.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)[
        :, :, :height, :width]
