"""BasicVSR's bidirectional recurrence with pluggable per-frame steps.

The stock MMagic/BasicSR forwards hard-wire the branch and reconstruction
layers; the pruned, sparsity-learning and routed variants differ only in what
a step computes. :func:`bidirectional_recurrence` is that loop once, with the
steps passed in, so each variant states only its difference.
"""
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

Step = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]
ForwardStep = Callable[[torch.Tensor, torch.Tensor, int, torch.Tensor], torch.Tensor]
Reconstruct = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]
Warp = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def bidirectional_recurrence(lrs: torch.Tensor, flows_forward: Optional[torch.Tensor],
                             flows_backward: torch.Tensor, backward_step: Step,
                             forward_step: ForwardStep, reconstruct: Reconstruct,
                             hidden_channels: Sequence[int], warp: Warp,
                             warp_previous_frame: bool = False) -> torch.Tensor:
    """Run BasicVSR's backward then forward propagation and reconstruct each frame.

    Args:
        lrs (Tensor): LR clip ``(n, t, c, h, w)``.
        flows_forward (Tensor | None): ``(n, t - 1, 2, h, w)`` flows for the
            forward branch (current to previous); None for a mirror-extended
            clip, whose forward flows are the backward ones reversed.
        flows_backward (Tensor): ``(n, t - 1, 2, h, w)``, current to next.
        backward_step: ``(lr_frame, warped_hidden, i) -> hidden``; the hidden
            state is the branch's output feature.
        forward_step: ``(lr_frame, warped_hidden, i, backward_feat) ->
            hidden`` (IconVSR's forward branch reads the backward feature).
        reconstruct: ``(lr_frame, backward_feat, forward_feat, i) -> sr_frame``.
        hidden_channels: Hidden widths of the backward and forward branches
            (they differ once the branches are pruned).
        warp: ``(feat, flow_nhw2) -> warped`` (MMagic's or BasicSR's ``flow_warp``).
        warp_previous_frame: Also warp the branch's previous LR frame with
            the hidden state (the same flow, one warp call: the hidden state
            is unchanged) and pass it to the steps as ``previous_lr=``
            (None on the branch's first frame): what changed since then.

    Returns:
        Tensor: ``(n, t, c, s*h, s*w)``.
    """
    n, t, c, h, w = lrs.shape

    def propagate(feat, previous, flow):
        if not warp_previous_frame:
            return warp(feat, flow), {}
        both = warp(torch.cat([feat, previous], dim=1), flow)
        return both[:, :-c], dict(previous_lr=both[:, -c:])

    first = dict(previous_lr=None) if warp_previous_frame else {}
    backward_feats = [None] * t
    feat = lrs.new_zeros(n, hidden_channels[0], h, w)
    for i in range(t - 1, -1, -1):
        extra = first
        if i < t - 1:
            feat, extra = propagate(feat, lrs[:, i + 1], flows_backward[:, i].permute(0, 2, 3, 1))
        feat = backward_step(lrs[:, i], feat, i, **extra)
        backward_feats[i] = feat
    feat = lrs.new_zeros(n, hidden_channels[1], h, w)
    outputs = []
    for i in range(t):
        extra = first
        if i > 0:
            flow = flows_forward[:, i - 1] if flows_forward is not None \
                else flows_backward[:, -i]
            feat, extra = propagate(feat, lrs[:, i - 1], flow.permute(0, 2, 3, 1))
        feat = forward_step(lrs[:, i], feat, i, backward_feats[i], **extra)
        outputs.append(reconstruct(lrs[:, i], backward_feats[i], feat, i))
        backward_feats[i] = None  # free as the stock forward does
    return torch.stack(outputs, dim=1)


def bilinear_base(lr: torch.Tensor, scale: int = 4) -> torch.Tensor:
    """The bilinear skip path of BasicVSR (``nn.Upsample(align_corners=False)``)."""
    return F.interpolate(lr, scale_factor=scale, mode='bilinear', align_corners=False)
