"""BasicSR models for the plugin's archs, selectable by ``model_type``.

BasicSR's ``VideoRecurrentModel`` sums a fixed set of losses (pixel,
perceptual) in ``optimize_parameters``; the plugin's methods add one term
each, computed by the network (:mod:`.archs`) or against a teacher. So the
models here repeat that step with the extra terms in the sum and in the log,
and keep everything else of ``VideoRecurrentModel`` (``fix_flow``,
``flow_lr_mul``, EMA, validation):

- ``SSLVideoRecurrentModel``: ``l_sparsity``, SSL's growing regulariser
  (stage 1, ``network_g.type: SSLBasicVSR``/``SSLIconVSR``).
- ``RoutedVideoRecurrentModel``: ``l_compute`` (executed fraction pulled to
  ``routing.target``) times ``train.compute_weight``, and ``l_indecision``
  (confidences pushed away from 0.5) times ``train.indecision_weight``
  (default 0: off), ``l_distill`` against the dense start with
  ``train.teacher``; with
  ``train.train_routers_only: true`` (phase 1) only the confidence
  estimators train: the backbone is frozen before DDP wraps the network and
  stays frozen through ``fix_flow``, which otherwise re-enables everything.
  Logs ``executed``.
- ``TemporalFinetuneVideoRecurrentModel``: SSL stage 3 with Temporal
  Finetuning, ``l_temporal`` (:func:`vsr_multigrid.pruning.temporal.temporal_distillation_loss`)
  against a frozen teacher, ``train.teacher: {path, network}``.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict

import torch
from basicsr.archs import build_network
from basicsr.models.video_recurrent_model import VideoRecurrentModel
from basicsr.utils import get_root_logger
from basicsr.utils.registry import ARCH_REGISTRY, MODEL_REGISTRY

from vsr_multigrid.pruning.temporal import temporal_distillation_loss
from vsr_multigrid.routing.config import dense_generator_cfg

__all__ = ['SSLVideoRecurrentModel', 'RoutedVideoRecurrentModel',
           'TemporalFinetuneVideoRecurrentModel']


def _positive(opt: dict, key: str, default: float, allow_zero: bool = False) -> float:
    value = opt.get(key, default)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 \
            or (value == 0 and not allow_zero):
        raise ValueError(f"train.{key}: expected a number {'>=' if allow_zero else '>'} 0, "
                         f'got {value!r}')
    return float(value)


def _build_teacher(model: VideoRecurrentModel, teacher, what: str):
    """A frozen network from ``train.teacher`` (``path``, ``network``: its
    ``network_g`` options; ``param_key``, default ``params``), on the
    model's device. Not wrapped by DDP, not saved: a resumed run reloads it
    from the file."""
    if not isinstance(teacher, dict) or sorted(set(teacher) - {'param_key'}) != \
            ['network', 'path']:
        raise ValueError('train.teacher: expected {path: CHECKPOINT, network: {type: ..., '
                         f'...}}[, param_key], got {teacher!r}')
    if not osp.isfile(teacher['path']):
        raise FileNotFoundError(f"train.teacher.path: {teacher['path']!r} is not a file "
                                f'({what})')
    net = build_network(dict(teacher['network']))
    model.load_network(net, teacher['path'], True, teacher.get('param_key', 'params'))
    return net.to(model.device).eval().requires_grad_(False)


def _distillation_loss(model: VideoRecurrentModel) -> torch.Tensor:
    """``distill_weight`` times the distance of the step's output to the
    teacher's on the same clip (frames weighted ``1 .. late_weight``)."""
    with torch.no_grad():
        target = model.net_teacher(model.lq)
    return model.distill_weight * temporal_distillation_loss(model.output, target,
                                                             model.late_weight)


class _ExtraLossModel(VideoRecurrentModel):
    """``VideoRecurrentModel`` whose step adds :meth:`extra_losses`."""

    #: Method the bare network must have, and the arch types that have it.
    NETWORK_NEEDS = ('', '')

    def __init__(self, opt):
        # Before the network is built and its checkpoint loaded, which would
        # fail first with a less helpful message.
        method, archs = self.NETWORK_NEEDS
        arch = (opt.get('network_g') or {}).get('type')
        if method and not hasattr(ARCH_REGISTRY.get(arch) if arch in ARCH_REGISTRY else None,
                                  method):
            raise TypeError(f'model_type {type(self).__name__} needs network_g.type {archs}, '
                            f'got {arch!r}')
        super().__init__(opt)

    def extra_losses(self) -> Dict[str, torch.Tensor]:
        """Named loss terms added to the pixel (and perceptual) loss."""
        raise NotImplementedError

    def extra_logs(self) -> Dict[str, torch.Tensor]:
        """Named values logged (averaged over processes), not optimised."""
        return {}

    def trainable(self, name: str) -> bool:
        """Whether parameter ``name`` trains (after ``fix_flow``'s changes)."""
        return True

    def _apply_fix_flow(self, current_iter: int) -> None:
        """BasicSR's ``fix_flow`` (``VideoRecurrentModel.optimize_parameters``),
        then :meth:`trainable` on top."""
        if not self.fix_flow_iter:
            return
        logger = get_root_logger()
        if current_iter == 1:
            logger.info(f'Fix flow network and feature extractor for {self.fix_flow_iter} iters.')
            for name, param in self.net_g.named_parameters():
                if 'spynet' in name or 'edvr' in name:
                    param.requires_grad_(False)
        elif current_iter == self.fix_flow_iter:
            logger.warning('Train all the parameters.')
            for name, param in self.net_g.named_parameters():
                param.requires_grad_(self.trainable(name))

    def optimize_parameters(self, current_iter):
        # SRModel.optimize_parameters with the extra terms in the sum.
        self._apply_fix_flow(current_iter)
        self.optimizer_g.zero_grad()
        self.output = self.net_g(self.lq)
        losses = OrderedDict()
        if self.cri_pix:
            losses['l_pix'] = self.cri_pix(self.output, self.gt)
        if self.cri_perceptual:
            l_percep, l_style = self.cri_perceptual(self.output, self.gt)
            if l_percep is not None:
                losses['l_percep'] = l_percep
            if l_style is not None:
                losses['l_style'] = l_style
        losses.update(self.extra_losses())
        sum(losses.values()).backward()
        self.optimizer_g.step()
        self.log_dict = self.reduce_loss_dict(OrderedDict(**losses, **self.extra_logs()))
        if self.ema_decay > 0:
            self.model_ema(decay=self.ema_decay)


@MODEL_REGISTRY.register()
class SSLVideoRecurrentModel(_ExtraLossModel):
    """SSL stage 1: the loss adds the network's ``l_sparsity``.

    Train option ``scale_lr_mul`` (default 1): the scales' LR relative to
    ``optim_g.lr``, as ``flow_lr_mul`` is SPyNet's (the MMagic configs'
    ``paramwise_cfg`` for ``generator.ssl``).
    """

    NETWORK_NEEDS = ('sparsity_loss', 'SSLBasicVSR or SSLIconVSR')

    def setup_optimizers(self):
        train_opt = self.opt['train']
        lr = train_opt['optim_g']['lr']
        multipliers = dict(normal=1.0, flow=float(train_opt.get('flow_lr_mul', 1)),
                           scales=_positive(train_opt, 'scale_lr_mul', 1.0))
        groups = {key: [] for key in multipliers}
        for name, param in self.get_bare_model(self.net_g).named_parameters():
            key = 'flow' if 'spynet' in name else 'scales' if name.startswith('ssl.') else \
                'normal'
            groups[key].append(param)
        optim_params = [dict(params=params, lr=lr * multipliers[key])
                        for key, params in groups.items() if params]
        get_root_logger().info('LR multipliers: ' + ', '.join(
            f'{key} {multipliers[key]:g}' for key, params in groups.items() if params))
        optim_opt = dict(train_opt['optim_g'])
        optim_type = optim_opt.pop('type')
        self.optimizer_g = self.get_optimizer(optim_type, optim_params, **optim_opt)
        self.optimizers.append(self.optimizer_g)

    def extra_losses(self):
        return {'l_sparsity': self.get_bare_model(self.net_g).sparsity_loss()}


@MODEL_REGISTRY.register()
class RoutedVideoRecurrentModel(_ExtraLossModel):
    """Skip routing: the loss adds ``compute_weight * l_compute`` (and
    ``indecision_weight * l_indecision``, ``oracle_weight * l_oracle`` when
    that weight is not 0).

    Train options: ``compute_weight`` (default 1.0), ``indecision_weight``
    (default 0), ``oracle_weight`` (default 0; the estimators against per-patch
    labels of where each unit matters, ``oracle_loss`` of the routed network),
    ``train_routers_only`` (default false; true for phase 1),
    and ``teacher`` (``path``: the dense checkpoint routing started from;
    ``network``: by default ``network_g`` without routing; ``param_key``):
    ``l_distill``, ``distill_weight`` (1.0) times the distance of the output
    to the frozen teacher's, frames weighted ``1 .. late_weight`` (1.0).
    """

    NETWORK_NEEDS = ('compute_loss', 'RoutedBasicVSR, RoutedIconVSR or their RoutedPruned forms')

    def __init__(self, opt):
        train = opt.get('train') or {}
        if opt.get('is_train'):
            self.compute_weight = _positive(train, 'compute_weight', 1.0, allow_zero=True)
            self.indecision_weight = _positive(train, 'indecision_weight', 0.0,
                                               allow_zero=True)
            self.oracle_weight = _positive(train, 'oracle_weight', 0.0, allow_zero=True)
            self.routers_only = train.get('train_routers_only', False)
            if not isinstance(self.routers_only, bool):
                raise ValueError('train.train_routers_only: expected true or false, got '
                                 f'{self.routers_only!r}')
        else:
            self.routers_only = False
        super().__init__(opt)

    def init_training_settings(self):
        train = self.opt['train']
        self.net_teacher = None
        if train.get('teacher') is not None:
            teacher = train['teacher']
            if isinstance(teacher, dict) and 'network' not in teacher:
                teacher = dict(teacher, network=dense_generator_cfg(self.opt['network_g']))
            self.distill_weight = _positive(train, 'distill_weight', 1.0)
            self.late_weight = _positive(train, 'late_weight', 1.0)
            self.net_teacher = _build_teacher(self, teacher,
                                              'the dense checkpoint routing started from')
        super().init_training_settings()

    def trainable(self, name: str) -> bool:
        return not self.routers_only or '_router.' in name

    def model_to_device(self, net):
        # Before DDP wraps it: DDP only reduces what requires grad at that point.
        if self.routers_only:
            for name, param in net.named_parameters():
                param.requires_grad_(self.trainable(name))
        return super().model_to_device(net)

    def extra_losses(self):
        net = self.get_bare_model(self.net_g)
        losses = {'l_compute': self.compute_weight * net.compute_loss()}
        if self.indecision_weight:
            losses['l_indecision'] = self.indecision_weight * net.indecision_loss()
        if self.oracle_weight:
            losses['l_oracle'] = self.oracle_weight * net.oracle_loss(self.lq, self.gt)
        if self.net_teacher is not None:
            losses['l_distill'] = _distillation_loss(self)
        return losses

    def extra_logs(self):
        net = self.get_bare_model(self.net_g)
        return {'executed': torch.tensor(net.executed_fraction(), device=self.device)}


@MODEL_REGISTRY.register()
class TemporalFinetuneVideoRecurrentModel(_ExtraLossModel):
    """SSL stage 3 with Temporal Finetuning: the pruned network's output is
    also distilled from a frozen teacher's, weighted up along the clip.

    Train options: ``teacher`` (``path``: the stage-1 checkpoint,
    ``network``: its ``network_g`` options; ``param_key``, default
    ``params``), ``distill_weight`` (1.0), ``late_weight`` (2.0, the last
    frame's weight relative to the first). Train on longer clips than stage 1.
    """

    def init_training_settings(self):
        train = self.opt['train']
        self.distill_weight = _positive(train, 'distill_weight', 1.0)
        self.late_weight = _positive(train, 'late_weight', 2.0)
        self.net_teacher = _build_teacher(
            self, train.get('teacher'), 'the stage-1 checkpoint the pruned network was cut from')
        super().init_training_settings()

    def extra_losses(self):
        return {'l_temporal': _distillation_loss(self)}
