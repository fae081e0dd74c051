"""Reconstruct a frame only where its output can differ from the previous one.

Where a patch is static (:func:`~vsr_multigrid.routing.gates.static_patches`)
in both branches, both hidden states there are the previous frame's,
unchanged: the backward branch kept frame ``t + 1``'s at frame ``t`` and the
forward branch kept frame ``t - 1``'s at frame ``t``. The reconstruction
(fusion, two pixel-shuffle upsamplings, ``conv_hr``, ``conv_last``) then
computes there what it computed for the previous frame, except within its
receptive field of a changed patch. So only a box around the changed
patches is reconstructed; the rest of the residual is the previous frame's.
The bilinear skip path is always this frame's own.

The box is one dense crop per frame (the changed patches' bounding box,
grown by the receptive field for the output and by it again for the input):
no gather of scattered windows, and exact, because every conv that sees the
crop's edge lies more than its receptive field from the output kept, and a
crop edge on the frame's edge pads as the whole frame does.
"""
from typing import Callable, Optional, Sequence, Tuple

import torch

__all__ = ['RECONSTRUCT_HALO', 'changed_box', 'reconstruct_box', 'reconstruct_changed']

#: LR pixels of the stock reconstruction's receptive field: 1 for
#: ``upsample1`` (3x3 at LR), 1 for ``upsample2`` (3x3 at 2x, rounded up to
#: whole LR pixels), 1 for ``conv_hr`` and ``conv_last`` (3x3 each at 4x).
RECONSTRUCT_HALO = 3


def changed_box(changed: torch.Tensor, patch: int, height: int, width: int,
                margin: int) -> Optional[Tuple[int, int, int, int]]:
    """LR pixel box ``(top, bottom, left, right)`` (end exclusive) holding every
    changed patch of every frame, grown by ``margin`` and clipped to the frame;
    None when no patch changed.

    Args:
        changed: ``(n, gh, gw)`` bool per patch.
    """
    if changed.dim() != 3:
        raise ValueError(f'changed patches: expected (n, gh, gw), got {tuple(changed.shape)}')
    rows = changed.any(dim=2).any(dim=0).nonzero().flatten()
    if rows.numel() == 0:
        return None
    cols = changed.any(dim=1).any(dim=0).nonzero().flatten()
    top, bottom = int(rows[0]) * patch - margin, (int(rows[-1]) + 1) * patch + margin
    left, right = int(cols[0]) * patch - margin, (int(cols[-1]) + 1) * patch + margin
    return max(0, top), min(height, bottom), max(0, left), min(width, right)


def reconstruct_changed(head: Callable[..., torch.Tensor], inputs: Sequence[torch.Tensor],
                        changed: torch.Tensor, previous: torch.Tensor, patch: int,
                        halo: int = RECONSTRUCT_HALO) -> torch.Tensor:
    """``head(*inputs)``, computed only around the changed patches and taken
    from ``previous`` (its value for the previous frame) elsewhere.

    Args:
        head: Maps LR maps ``(n, c_i, h, w)`` to ``(n, c, s * h, s * w)``;
            translation-equivariant with a receptive field of at most ``halo``
            LR pixels (convs, pixel shuffles, pointwise activations).
        inputs: The LR maps.
        changed: ``(n, gh, gw)`` bool: patches whose inputs may differ from
            the previous frame's.
        previous: ``(n, c, s * h, s * w)``: ``head`` of the previous frame.
        patch: LR pixels per patch side.
        halo: The head's receptive field in LR pixels.
    """
    height, width = inputs[0].shape[-2:]
    return reconstruct_box(head, inputs, changed_box(changed, patch, height, width, halo),
                           previous, halo)


def reconstruct_box(head: Callable[..., torch.Tensor], inputs: Sequence[torch.Tensor],
                    box: Optional[Tuple[int, int, int, int]], previous: torch.Tensor,
                    halo: int = RECONSTRUCT_HALO) -> torch.Tensor:
    """:func:`reconstruct_changed` for a box already found by
    :func:`changed_box` (grown by ``halo``; None: nothing changed)."""
    height, width = inputs[0].shape[-2:]
    scale = previous.size(-1) // width
    if previous.shape[-2:] != (scale * height, scale * width):
        raise ValueError(f'previous output {tuple(previous.shape)} is not a whole multiple of '
                         f'the LR size {height}x{width}')
    if box is None:
        return previous
    top, bottom, left, right = box
    crop_top, crop_bottom = max(0, top - halo), min(height, bottom + halo)
    crop_left, crop_right = max(0, left - halo), min(width, right + halo)
    if (crop_bottom - crop_top) * (crop_right - crop_left) == height * width:
        return head(*inputs)
    out = head(*(x[..., crop_top:crop_bottom, crop_left:crop_right] for x in inputs))
    result = previous.clone()
    result[..., scale * top:scale * bottom, scale * left:scale * right] = out[
        ..., scale * (top - crop_top):scale * (bottom - crop_top),
        scale * (left - crop_left):scale * (right - crop_left)]
    return result
