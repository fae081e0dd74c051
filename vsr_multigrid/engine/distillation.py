"""Output distillation from a frozen teacher generator, for MMagic models.

One mixin, placed before MMagic's ``BasicVSR`` in a model's bases, adds a
teacher loaded from a checkpoint and :meth:`TeacherDistillation.distillation_loss`:
the student's output distilled from the teacher's on the same clip
(:func:`~vsr_multigrid.pruning.temporal.temporal_distillation_loss`, late
frames optionally weighted up). Used by SSL's Temporal Finetuning (the
pruned model learns from the stage-1 model) and by skip routing's phase 2
(the routed model learns from the dense model it started from).
"""
import os.path as osp

import torch
from mmagic.registry import MODELS
from torch import nn

from ..compat.checkpoint import generator_weights
from ..pruning.temporal import temporal_distillation_loss

__all__ = ['load_teacher', 'TeacherDistillation']


def load_teacher(teacher: dict) -> nn.Module:
    """A frozen generator from ``dict(checkpoint=PATH[, generator=CFG])``;
    without ``generator`` the checkpoint's saved config (``meta.cfg``) gives it."""
    from mmengine.config import Config
    unknown = sorted(set(teacher) - {'checkpoint', 'generator'})
    if unknown or 'checkpoint' not in teacher:
        raise ValueError(f"model.teacher: expected dict(checkpoint=PATH[, generator=CFG]), "
                         f"got keys {sorted(teacher)}")
    path = teacher['checkpoint']
    if not isinstance(path, str) or not osp.isfile(path):
        raise FileNotFoundError(f'model.teacher.checkpoint: {path!r} is not a file (the '
                                'checkpoint of the model to distil from)')
    state = torch.load(path, map_location='cpu', weights_only=False)
    generator_cfg = teacher.get('generator')
    if generator_cfg is None:
        saved = state.get('meta', {}).get('cfg') if isinstance(state, dict) else None
        if not saved:
            raise ValueError(f'model.teacher: {path} carries no config (meta.cfg); give '
                             'model.teacher.generator')
        generator_cfg = Config.fromstring(saved, '.py').model.generator
    net = MODELS.build(generator_cfg)
    weights = generator_weights(state)
    try:
        net.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise ValueError(f'model.teacher: {path} does not fit its generator '
                         f'{generator_cfg.get("type")}: {error}') from None
    return net.eval().requires_grad_(False)


class TeacherDistillation:
    """Mixin for a ``BasicVSR`` subclass: a frozen teacher and the loss that
    pulls the generator's training output to the teacher's."""

    def _setup_teacher(self, teacher, distill_weight, late_weight) -> None:
        """``teacher``: ``dict(checkpoint=...[, generator=...])`` (see
        :func:`load_teacher`); not part of the state dict, so a resumed run
        reloads it from the file. ``late_weight``: weight of the last frame
        relative to the first."""
        if not isinstance(teacher, dict):
            raise ValueError('model.teacher: expected dict(checkpoint=PATH), got '
                             f'{teacher!r}')
        for key, value in (('distill_weight', distill_weight), ('late_weight', late_weight)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ValueError(f'model.{key}: expected a positive number, got {value!r}')
        self.distill_weight, self.late_weight = float(distill_weight), float(late_weight)
        # In a list, so the teacher is neither a parameter, nor in the state
        # dict, nor wrapped by DDP; it follows the inputs' device on first use.
        self._teacher = [load_teacher(dict(teacher))]
        self._student_output = None

    def forward_tensor(self, inputs, data_samples=None, **kwargs):
        output = super().forward_tensor(inputs, data_samples, **kwargs)
        if self.training and getattr(self, '_teacher', None):
            self._student_output = output
        return output

    def distillation_loss(self, inputs: torch.Tensor) -> torch.Tensor:
        """``distill_weight`` times the distance of the last training output to
        the teacher's on ``inputs``."""
        student, self._student_output = self._student_output, None
        teacher = self._teacher[0]
        if next(teacher.parameters()).device != inputs.device:
            self._teacher[0] = teacher = teacher.to(inputs.device)
        with torch.no_grad():
            target = teacher(inputs)
        return self.distill_weight * temporal_distillation_loss(student, target,
                                                                self.late_weight)
