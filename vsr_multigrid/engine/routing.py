"""MMagic adapters of skip routing: a routed BasicVSR generator and its model.

The method lives in :mod:`vsr_multigrid.routing` (plain torch; its keys and
their defaults in :mod:`vsr_multigrid.routing.config`); this module
maps MMagic's ``BasicVSRNet``/``IconVSRNet`` names to roles (the same map as the pruning
adapters), adds one confidence estimator per branch and puts the compute
loss in the model's loss dict.

- ``RoutedBasicVSRNet`` / ``RoutedIconVSRNet``: the stock generator (same
  parameter names, so a dense checkpoint loads) whose residual blocks run
  under per-patch gates.
- ``RoutedPrunedBasicVSRNet`` / ``RoutedPrunedIconVSRNet``: the same on a
  pruned generator (``tools/prune.py``'s channel spec, aligned layout): skip
  routing on top of SSL.
- ``RoutedBasicVSR``: MMagic's ``BasicVSR`` whose loss dict adds
  ``loss_compute`` (executed fraction pulled to the target) and, with a
  teacher, ``loss_distill`` (the output pulled to the dense model's).
"""
import functools
from typing import Dict

import torch
from mmagic.models.editors.basicvsr.basicvsr import BasicVSR
from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet
from mmagic.models.editors.iconvsr.iconvsr_net import IconVSRNet
from mmagic.registry import MODELS
from torch import nn

from ..nets.recurrence import bilinear_base
from ..pruning import basicvsr as roles
from ..routing.blocks import reuse_where_closed, routed_residual_blocks
from ..routing.config import ROUTING_DEFAULTS, check_routing, dense_generator_cfg
from ..routing.gates import (ConfidenceEstimator, compute_loss, executed_share,
                             gumbel_sigmoid_gates, hard_gates, indecision_loss, oracle_labels,
                             oracle_loss, patch_errors, share_gates, static_patches,
                             temporal_cue)
from ..routing.outputs import RECONSTRUCT_HALO, changed_box, reconstruct_box
from ..routing.patches import expand_patch_mask, patch_areas
from .distillation import TeacherDistillation
from .pruning import _check_residual_blocks, _Pruned, generator_convs, recurrent_forward

__all__ = ['ROUTING_DEFAULTS', 'dense_generator_cfg', 'RoutedBasicVSRNet', 'RoutedIconVSRNet',
           'RoutedPrunedBasicVSRNet', 'RoutedPrunedIconVSRNet', 'RoutedBasicVSR']


class _Routed:
    """Skip routing shared by the BasicVSR and IconVSR generators (a mixin
    before the stock class)."""

    ARCH = None

    def _setup_routing(self, hidden_channels, num_blocks: int, routing) -> None:
        """``hidden_channels``: the widths of the backward and forward streams
        (the estimators read them)."""
        self.routing = check_routing(routing, num_blocks)
        self.num_blocks = num_blocks
        self.hidden_channels = tuple(hidden_channels)
        _check_residual_blocks(self)
        self._convs = generator_convs(self, num_blocks, self.ARCH)
        for branch, width in zip(roles.BRANCHES, self.hidden_channels):
            setattr(self, f'{branch}_router', ConfidenceEstimator(  # backward_router, ...
                width, self.routing['units'], self.routing['patch'],
                self.routing['hidden'], open_bias=self.routing['open_bias'],
                cue_channels=int(self.routing['temporal_cue'])))
        # Training forwards seen (the temperature schedule); checkpointed.
        self.register_buffer('route_iter', torch.zeros((), dtype=torch.long))
        # The test-time rule (settable, as the report tools do): a share of
        # the pairs when test_share is set, else the threshold.
        self.threshold = float(self.routing['threshold'])
        self.test_share = self.routing['test_share']
        # (branch, executed share, weight) per branch step of the last
        # forward; the share weights each patch by its pixels
        # (executed_share). And per frame the share of output pixels
        # reconstructed (static_output).
        self.executed, self.reconstructed = [], []
        self._areas = None  # pixels per patch of the last forward's frames
        # When True, the last forward's decisions are kept per branch and
        # frame index: {(branch, t): bool (n, units, gh, gw) or None (all ran)},
        # and with static_output {('output', t): bool (n, gh, gw), the patches
        # reconstructed, or None (the whole frame)}.
        self.record_maps = False
        self.gate_maps = {}
        # Decisions to replay instead of the estimators' (same keys as
        # gate_maps): times another width on the same choices.
        self.forced_maps = None

    def convs(self) -> Dict[str, nn.Conv2d]:
        return self._convs

    def _anneal_progress(self) -> float:
        """0 -> 1 over ``anneal_iters`` training forwards (1 when 0)."""
        iters = self.routing['anneal_iters']
        return 1.0 if iters == 0 else min(1.0, int(self.route_iter) / iters)

    def temperature(self) -> float:
        cfg = self.routing
        return cfg['temperature'] + self._anneal_progress() * (
            cfg['min_temperature'] - cfg['temperature'])

    def gate_noise(self) -> float:
        """Scale of the training gates' logistic noise (1 -> ``min_noise``)."""
        return 1.0 + self._anneal_progress() * (self.routing['min_noise'] - 1.0)

    def executed_fraction(self, branch: str = None) -> float:
        """Share of (block, pixel) pairs the last forward ran (a partial
        patch at the frame's edge counts by its pixels), in both branches or
        in ``branch`` ('backward' or 'forward') alone."""
        steps = [(f, w) for b, f, w in self.executed if branch in (None, b)]
        total = sum(w for _, w in steps)
        return sum(float(f) * w for f, w in steps) / total if total else 1.0

    def reconstructed_fraction(self) -> float:
        """Share of output pixels the last forward reconstructed (below 1
        only with ``static_output``: the rest repeated the previous frame's)."""
        return sum(self.reconstructed) / len(self.reconstructed) if self.reconstructed else 1.0

    def forward(self, lrs):
        convs, cfg = self.convs(), self.routing
        training = self.training and torch.is_grad_enabled()
        if training:
            self.route_iter += 1
        temperature, noise = self.temperature(), self.gate_noise()
        self.executed, self.train_gates, self.train_pools = [], [], []
        self.reconstructed = []  # per frame, share of the output computed
        dense_step = training and bool(cfg['dense_interval']) and \
            int(self.route_iter) % cfg['dense_interval'] == 0

        def branch_step(branch, lr, hidden, extra, refill, previous_lr=None):
            feat = roles.branch_input(convs, branch, lr, hidden, extra, refill)
            frame = self._frame_index[branch]
            self._frame_index[branch] += 1
            t = frame if branch == 'forward' else self._num_frames - 1 - frame
            gates, mode = None, cfg['inference']
            refresh = cfg['refresh_interval'] and frame % cfg['refresh_interval'] == 0
            if not refresh and not (cfg['temporal_cue'] and previous_lr is None):
                cue = temporal_cue(lr, previous_lr) if cfg['temporal_cue'] else None
                router = getattr(self, f'{branch}_router')
                pooled = router.pool(feat, cue)
                logits = router.score(pooled)
                if self.forced_maps is not None:
                    # Replayed decisions; the estimator still ran, so a
                    # replay is timed with its cost.
                    gates = self.forced_maps[(branch, t)]
                elif dense_step:
                    # All open; the estimator stays in the graph with a zero
                    # gradient (DDP needs every parameter used each step).
                    gates, mode = 1 + 0 * logits, 'masked'
                elif training:
                    gates, mode = gumbel_sigmoid_gates(logits, temperature,
                                                       noise=noise), 'masked'
                    self.train_gates.append(gates)
                    # Scored again by indecision_loss, only when it is asked
                    # for: detached, so that loss trains the estimator only.
                    self.train_pools.append((router, pooled.detach(), t))
                elif self.test_share is not None:
                    gates = share_gates(logits, self.test_share)
                else:
                    gates = hard_gates(logits, self.threshold)
            static = None
            if gates is not None and self.forced_maps is None and \
                    cfg['static_tolerance'] is not None and refill is None and \
                    self._previous[branch] is not None:
                previous_lr, previous_feat = self._previous[branch]
                static = static_patches(lr, previous_lr, cfg['patch'], cfg['static_tolerance'])
                if static.any():
                    gates = gates & ~static if gates.dtype == torch.bool else \
                        gates * (~static).to(gates)
                    self._static[(branch, t)] = static[:, 0]
                else:
                    static = None
            if self.record_maps:
                self.gate_maps[(branch, t)] = None if gates is None else gates.detach().bool()
            if gates is not None and self._areas is None:
                self._areas = patch_areas(*feat.shape[2:], cfg['patch'], feat.device)
            self.executed.append((branch, 1.0 if gates is None else
                                  executed_share(gates.detach(), self._areas), lr.size(0)))
            feat = routed_residual_blocks(convs, branch, self.num_blocks, feat, gates,
                                          cfg['patch'], mode)
            if cfg['reuse'] and gates is not None and frame > 0 and refill is None:
                feat = reuse_where_closed(feat, hidden, gates, cfg['patch'])
            if static is not None:
                feat = torch.where(expand_patch_mask(static, cfg['patch'], *feat.shape[2:]),
                                   previous_feat, feat)
            if cfg['static_tolerance'] is not None:
                self._previous[branch] = (lr, feat)
            return feat

        # Frames in processing order per branch: the backward branch meets
        # the last frame first, so "every k-th frame" counts from each
        # branch's own start.
        self._frame_index = {branch: 0 for branch in roles.BRANCHES}
        # Each branch's previous LR frame and hidden state, not warped, and
        # the patches where it was kept: {(branch, t): bool (n, gh, gw)}
        # (static_tolerance).
        self._previous = {branch: None for branch in roles.BRANCHES}
        self._static = {}
        self._num_frames, self.gate_maps, self._areas = lrs.size(1), {}, None
        reuse_output = cfg['static_output'] and not training and \
            cfg['inference'] == 'sparse' and (cfg['static_tolerance'] is not None or
                                              self.forced_maps is not None)
        previous_residual = None
        head = functools.partial(roles.reconstruct_residual, convs)

        def reconstruct(lr, backward_feat, forward_feat, t):
            nonlocal previous_residual
            if not reuse_output:
                return roles.plain_reconstruct(convs, lr, backward_feat, forward_feat)
            changed = self._changed_patches(t) if previous_residual is not None else None
            if self.record_maps:
                self.gate_maps[('output', t)] = changed
            if changed is None:
                residual = head(backward_feat, forward_feat)
                self.reconstructed.append(1.0)
            else:
                height, width = lr.shape[-2:]
                box = changed_box(changed, cfg['patch'], height, width, RECONSTRUCT_HALO)
                self.reconstructed.append(0.0 if box is None else (box[1] - box[0]) *
                                          (box[3] - box[2]) / (height * width))
                residual = reconstruct_box(head, (backward_feat, forward_feat), box,
                                           previous_residual)
            previous_residual = residual
            return residual + bilinear_base(lr)

        return recurrent_forward(self, lrs, branch_step, reconstruct, self.hidden_channels,
                                 warp_previous_frame=cfg['temporal_cue'])

    def _changed_patches(self, t: int):
        """Patches of frame ``t`` whose hidden states may differ from frame
        ``t - 1``'s in either branch, ``(n, gh, gw)`` bool; None: all may.
        Unchanged are those kept static by the forward branch at ``t`` and by
        the backward branch at ``t - 1`` (both kept the other frame's state)."""
        if self.forced_maps is not None:
            return self.forced_maps.get(('output', t))
        forward, backward = self._static.get(('forward', t)), self._static.get(('backward', t - 1))
        if forward is None or backward is None:
            return None
        return ~(forward & backward)

    def compute_loss(self) -> torch.Tensor:
        """The last training forward's ``(executed - target)^2``, per
        ``budget`` (refreshed frames and dense steps excluded: they are not the
        estimator's choice)."""
        if not self.train_gates:
            return next(self.parameters()).new_zeros(())
        return compute_loss(torch.stack(self.train_gates), self.routing['target'],
                            self._areas, self.routing['budget'])

    def indecision_loss(self) -> torch.Tensor:
        """The last training forward's mean ``4 p (1 - p)`` of the estimators'
        confidences (same steps as :meth:`compute_loss`); its gradient
        reaches the estimators only, never the backbone."""
        if not self.train_pools:
            return next(self.parameters()).new_zeros(())
        return indecision_loss(torch.stack([router.score(pooled)
                                            for router, pooled, _ in self.train_pools]),
                               self._areas)

    def oracle_loss(self, lrs, gt) -> torch.Tensor:
        """The estimators of the last training forward against oracle labels.

        Runs the generator without gradients once with every block open and
        once per unit with that unit closed everywhere in both branches
        (forced decisions), and labels, per unit, the ``target`` share of
        (frame, patch) pairs whose output error rises most when it is closed
        as worth running (:func:`~vsr_multigrid.routing.gates.oracle_labels`).
        Closing a unit everywhere also closes it at the other frames the
        recurrence carries, so a label measures a patch's value to the whole
        clip, not one decision's alone. The loss reaches the estimators only
        (scored from the detached pooled features).
        """
        pools = list(self.train_pools)
        if not pools:
            return next(self.parameters()).new_zeros(())
        kept = (self.executed, self.train_gates, self.train_pools, self._areas)
        n, frames = lrs.shape[:2]
        units, patch = self.routing['units'], self.routing['patch']
        grid = pools[0][1].shape[-2:]
        scale = gt.size(-1) // lrs.size(-1)

        def errors(closed_unit):
            gates = torch.ones(n, units, *grid, dtype=torch.bool, device=lrs.device)
            if closed_unit is not None:
                gates[:, closed_unit] = False
            self.forced_maps = {(branch, t): gates for branch in roles.BRANCHES
                                for t in range(frames)}
            try:
                return patch_errors(self(lrs), gt, patch * scale)
            finally:
                self.forced_maps = None

        with torch.no_grad():
            base = errors(None)
            gains = torch.stack([errors(u) - base for u in range(units)])  # (units, n, t, gh, gw)
        self.executed, self.train_gates, self.train_pools, self._areas = kept
        labels = oracle_labels(gains, self.routing['target'])
        logits = torch.stack([router.score(pooled) for router, pooled, _ in pools])
        targets = torch.stack([labels[:, :, t].transpose(0, 1) for _, _, t in pools])
        return oracle_loss(logits, targets)


@MODELS.register_module()
class RoutedBasicVSRNet(_Routed, BasicVSRNet):
    """BasicVSRNet whose residual blocks run per patch where an estimator says so.

    Args:
        mid_channels, num_blocks, spynet_pretrained: As ``BasicVSRNet``.
        routing (dict, optional): Keys of :data:`ROUTING_DEFAULTS`.
    """

    ARCH = 'basicvsr'

    def __init__(self, mid_channels=64, num_blocks=30, spynet_pretrained=None, routing=None):
        super().__init__(mid_channels=mid_channels, num_blocks=num_blocks,
                         spynet_pretrained=spynet_pretrained)
        self._setup_routing((mid_channels, mid_channels), num_blocks, routing)


@MODELS.register_module()
class RoutedIconVSRNet(_Routed, IconVSRNet):
    """IconVSRNet whose residual blocks run per patch (keyframe refill, EDVR
    and SPyNet always run).

    Args:
        mid_channels, num_blocks, keyframe_stride, padding, spynet_pretrained,
            edvr_pretrained: As ``IconVSRNet``.
        routing (dict, optional): Keys of :data:`ROUTING_DEFAULTS`.
    """

    ARCH = 'iconvsr'

    def __init__(self, mid_channels=64, num_blocks=30, keyframe_stride=5, padding=2,
                 spynet_pretrained=None, edvr_pretrained=None, routing=None):
        super().__init__(mid_channels=mid_channels, num_blocks=num_blocks,
                         keyframe_stride=keyframe_stride, padding=padding,
                         spynet_pretrained=spynet_pretrained, edvr_pretrained=edvr_pretrained)
        self._setup_routing((mid_channels, mid_channels), num_blocks, routing)


def _routed_pruned_setup(net, channel_spec, build, routing) -> None:
    """Build a pruned generator (``build(spec)``: the stock constructor) and
    route its blocks."""
    spec = net._load_spec(channel_spec)
    if spec.stream_mode != 'aligned':
        raise ValueError(f'{type(net).__name__}: skip routing needs the aligned stream layout '
                         f"(dense blocks on a narrower stream), the channel spec has "
                         f"stream_mode={spec.stream_mode!r}")
    build(spec)
    net._build_pruned(spec)
    net._setup_routing(tuple(spec.hidden_channels(b) for b in roles.BRANCHES),
                       spec.num_blocks, routing)


@MODELS.register_module()
class RoutedPrunedBasicVSRNet(_Routed, _Pruned, BasicVSRNet):
    """A pruned BasicVSRNet (``tools/prune.py``'s channel spec, aligned
    layout) whose residual blocks run per patch: skip routing on top of SSL.

    Args:
        channel_spec (str | dict): As ``PrunedBasicVSRNet``.
        spynet_pretrained (str, optional): As ``BasicVSRNet``.
        routing (dict, optional): Keys of :data:`ROUTING_DEFAULTS`.
    """

    ARCH, ARCH_NAME = 'basicvsr', 'BasicVSRNet'

    def __init__(self, channel_spec, spynet_pretrained=None, routing=None):
        _routed_pruned_setup(self, channel_spec, lambda spec: BasicVSRNet.__init__(
            self, mid_channels=spec.mid_channels, num_blocks=spec.num_blocks,
            spynet_pretrained=spynet_pretrained), routing)


@MODELS.register_module()
class RoutedPrunedIconVSRNet(_Routed, _Pruned, IconVSRNet):
    """A pruned IconVSRNet (aligned layout) whose residual blocks run per patch.

    Args:
        channel_spec (str | dict): As ``PrunedIconVSRNet``.
        spynet_pretrained, edvr_pretrained (str, optional): As ``IconVSRNet``.
        routing (dict, optional): Keys of :data:`ROUTING_DEFAULTS`.
    """

    ARCH, ARCH_NAME = 'iconvsr', 'IconVSRNet'

    def __init__(self, channel_spec, spynet_pretrained=None, edvr_pretrained=None,
                 routing=None):
        _routed_pruned_setup(self, channel_spec, lambda spec: IconVSRNet.__init__(
            self, mid_channels=spec.mid_channels, num_blocks=spec.num_blocks,
            keyframe_stride=spec.keyframe_stride, padding=spec.padding,
            spynet_pretrained=spynet_pretrained, edvr_pretrained=edvr_pretrained), routing)


@MODELS.register_module()
class RoutedBasicVSR(TeacherDistillation, BasicVSR):
    """MMagic's BasicVSR whose loss dict adds the generator's ``loss_compute``
    (and ``loss_indecision`` or ``loss_oracle`` when its weight is not 0,
    ``loss_distill`` when a teacher is given).

    Args:
        compute_weight (float): Weight of ``loss_compute``.
        indecision_weight (float): Weight of ``loss_indecision``, which pushes
            the estimators' confidences away from 0.5 (0: off).
        oracle_weight (float): Weight of ``loss_oracle``: the estimators
            against per-patch labels of where each unit matters most
            (:meth:`_Routed.oracle_loss`; ``units + 1`` extra forwards without
            gradients per step; meant for phase 1, whose frozen backbone
            makes the labels stable). 0: off.
        teacher (dict, optional): ``dict(checkpoint=DENSE.pth[, generator=CFG])``:
            the dense model routing started from, frozen (its generator is by
            default the routed one without routing); ``loss_distill``
            pulls the routed output to its output on the same clip, so that
            phase 2 learns to skip without moving away from the model whose
            quality it is judged against. None: off.
        distill_weight (float): Weight of ``loss_distill``.
        late_weight (float): Weight of the last frame in ``loss_distill``
            relative to the first (1: uniform).
        generator, pixel_loss, ...: As ``BasicVSR``.
    """

    def __init__(self, generator, pixel_loss, compute_weight=1.0, indecision_weight=0.0,
                 oracle_weight=0.0, teacher=None, distill_weight=1.0, late_weight=1.0,
                 **kwargs):
        super().__init__(generator=generator, pixel_loss=pixel_loss, **kwargs)
        for key, value in (('compute_weight', compute_weight),
                           ('indecision_weight', indecision_weight),
                           ('oracle_weight', oracle_weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f'model.{key}: expected a number >= 0, got {value!r}')
        self.compute_weight = float(compute_weight)
        self.indecision_weight = float(indecision_weight)
        self.oracle_weight = float(oracle_weight)
        if teacher is not None:
            if isinstance(teacher, dict) and 'generator' not in teacher:
                teacher = dict(teacher, generator=dense_generator_cfg(generator))
            self._setup_teacher(teacher, distill_weight, late_weight)

    def forward_train(self, inputs, data_samples=None, **kwargs):
        losses = super().forward_train(inputs, data_samples, **kwargs)
        if not hasattr(self.generator, 'compute_loss'):
            raise TypeError(f'RoutedBasicVSR needs a routed generator (RoutedBasicVSRNet), '
                            f'got {type(self.generator).__name__}')
        losses['loss_compute'] = self.compute_weight * self.generator.compute_loss()
        if self.indecision_weight:
            losses['loss_indecision'] = self.indecision_weight * \
                self.generator.indecision_loss()
        if self.oracle_weight:
            losses['loss_oracle'] = self.oracle_weight * self.generator.oracle_loss(
                inputs, data_samples.gt_img)
        if getattr(self, '_teacher', None):
            losses['loss_distill'] = self.distillation_loss(inputs)
        return losses
