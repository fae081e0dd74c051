"""Temporal Finetuning (stage 3 of SSL): keep a pruned model's error from
growing along the sequence.

SSL's paper names Temporal Finetuning without code. Ours has two parts:

- the pruned model is fine-tuned on longer clips than it was trained on
  (the config's ``num_input_frames``), so its recurrence sees the lengths at
  which a pruned hidden state drifts;
- its output is distilled from the dense stage-1 model (the teacher, frozen)
  with a weight that grows linearly along the clip, so late frames, which
  inherit every earlier frame's error through the hidden state, count most.

Both branches of BasicVSR propagate, but the forward branch is the one the
output reads last and errors accumulate over ``t`` steps in it; the weight
follows the frame index.
"""
import torch

__all__ = ['frame_weights', 'temporal_distillation_loss']


def frame_weights(num_frames: int, late_weight: float, device=None) -> torch.Tensor:
    """Weights ``1 .. late_weight`` linear over the frames, normalised to mean 1."""
    if num_frames < 1:
        raise ValueError(f'frame_weights: expected at least 1 frame, got {num_frames}')
    if not late_weight > 0:
        raise ValueError(f'late_weight: expected a positive number, got {late_weight!r}')
    weights = torch.linspace(1.0, float(late_weight), num_frames, device=device)
    return weights / weights.mean()


def temporal_distillation_loss(student: torch.Tensor, teacher: torch.Tensor,
                               late_weight: float = 2.0) -> torch.Tensor:
    """Mean absolute difference per frame, weighted by :func:`frame_weights`.

    Args:
        student, teacher: ``(n, t, c, h, w)`` outputs on the same clip.
        late_weight: Weight of the last frame relative to the first.
    """
    if student.shape != teacher.shape or student.dim() != 5:
        raise ValueError(f'temporal distillation: expected two (n, t, c, h, w) tensors of one '
                         f'shape, got {tuple(student.shape)} and {tuple(teacher.shape)}')
    per_frame = (student - teacher.detach()).abs().mean(dim=(0, 2, 3, 4))
    return (per_frame * frame_weights(student.size(1), late_weight, student.device)).mean()
