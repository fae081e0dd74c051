"""MMagic adapters of SSL pruning: stage-1 and pruned BasicVSR/IconVSR generators.

The method lives in :mod:`vsr_multigrid.pruning` (plain torch); this module
only maps MMagic's ``BasicVSRNet``/``IconVSRNet`` layer names to its roles,
reuses the stock flow (and IconVSR's EDVR refill) computation, and adds the
sparsity loss to BasicVSR's loss dict.

- ``SSLBasicVSRNet`` / ``SSLIconVSRNet``: the stock generator (same parameter
  names, so a dense checkpoint loads) plus per-channel scales and SSL's
  growing regulariser.
- ``SSLBasicVSR``: MMagic's ``BasicVSR`` model whose loss dict carries
  ``loss_sparsity`` (works under DDP and with ``fix_iter``).
- ``PrunedBasicVSRNet`` / ``PrunedIconVSRNet``: built from a channel spec
  (``tools/prune.py``), with the stock names; a checkpoint of another shape is
  refused, naming the layer.
- ``TemporalFinetuneBasicVSR``: stage 3 with Temporal Finetuning, the pruned
  generator's output distilled from the frozen stage-1 model, late frames
  weighted most.
"""
from typing import Dict

import torch
from mmagic.models.editors.basicvsr.basicvsr import BasicVSR
from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet
from mmagic.models.editors.iconvsr.iconvsr_net import IconVSRNet
from mmagic.models.utils import default_init_weights, flow_warp
from mmagic.registry import MODELS
from torch import nn

from ..nets.recurrence import bidirectional_recurrence
from ..pruning import basicvsr as core
from ..pruning.scales import SparsityScales
from ..pruning.spec import ChannelSpec
from .distillation import TeacherDistillation

__all__ = ['generator_convs', 'SSLBasicVSRNet', 'SSLIconVSRNet', 'SSLBasicVSR',
           'PrunedBasicVSRNet', 'PrunedIconVSRNet', 'TemporalFinetuneBasicVSR']

_BRANCH_NAMES = {
    '{branch}.input': '{branch}_resblocks.main.0',
    '{branch}.block{k}.conv1': '{branch}_resblocks.main.2.{k}.conv1',
    '{branch}.block{k}.conv2': '{branch}_resblocks.main.2.{k}.conv2',
}
_TAIL_NAMES = {
    'upsample1': 'upsample1.upsample_conv',
    'upsample2': 'upsample2.upsample_conv',
    'conv_hr': 'conv_hr',
    'conv_last': 'conv_last',
}
#: MMagic module name of each role of :mod:`vsr_multigrid.pruning.basicvsr`, per
#: architecture (``{k}``: block index). The only place these names appear.
MMAGIC_NAMES = {
    'basicvsr': {**_BRANCH_NAMES, 'fusion': 'fusion', **_TAIL_NAMES},
    'iconvsr': {'{branch}.refill': '{branch}_fusion', **_BRANCH_NAMES, **_TAIL_NAMES},
}


def role_names(num_blocks: int, arch: str) -> Dict[str, str]:
    """Role -> module name in MMagic's BasicVSRNet (``'basicvsr'``) or IconVSRNet."""
    names = {}
    for pattern, name in MMAGIC_NAMES[arch].items():
        if '{branch}' not in pattern:
            names[pattern] = name
            continue
        for branch in core.BRANCHES:
            blocks = range(num_blocks) if '{k}' in pattern else [None]
            for k in blocks:
                names[pattern.format(branch=branch, k=k)] = name.format(branch=branch, k=k)
    return names


def generator_convs(net: nn.Module, num_blocks: int, arch: str) -> Dict[str, nn.Conv2d]:
    """Role -> conv module of an MMagic BasicVSRNet/IconVSRNet (stock, stage-1 or pruned)."""
    modules = dict(net.named_modules())
    convs = {}
    for role, name in role_names(num_blocks, arch).items():
        if name not in modules:
            raise ValueError(f'{type(net).__name__} has no module {name!r} (role {role!r}): '
                             f'not an MMagic {arch} layout')
        convs[role] = modules[name]
    core.check_convs(convs)
    return convs


def _check_residual_blocks(net: nn.Module) -> None:
    for branch in core.BRANCHES:
        for block in getattr(net, f'{branch}_resblocks').main[2]:
            if getattr(block, 'res_scale', 1.0) != 1.0:
                raise ValueError('SSL pruning supports residual blocks with res_scale=1 '
                                 f'(BasicVSR\'s), got {block.res_scale}')


def _warn_small(net: nn.Module, lrs: torch.Tensor) -> None:
    """The stock generators' warning for inputs below 64x64, once."""
    h, w = lrs.shape[-2:]
    if (h < 64 or w < 64) and not net._raised_warning:
        from logging import WARNING

        from mmengine import print_log
        print_log(f'{net.__class__.__name__} is designed for input larger than 64x64, but '
                  f'the resolution of current image is {h}x{w}. We recommend you to check '
                  'your input.', 'current', WARNING)
        net._raised_warning = True


def recurrent_forward(net: nn.Module, lrs: torch.Tensor, branch_step, reconstruct,
                      hidden_channels, warp_previous_frame: bool = False) -> torch.Tensor:
    """The stock MMagic BasicVSRNet/IconVSRNet forward with pluggable layers.

    Args:
        net: The generator (its SPyNet, and for IconVSR its EDVR, keyframe
            stride and spatial padding are the stock ones).
        branch_step: ``(branch, lr, hidden, extra, refill) -> feature``.
        reconstruct: ``(lr, backward_feat, forward_feat, i) -> sr_frame`` (frames
            in order, ``i`` the frame's index).
        hidden_channels: Hidden widths of the backward and forward branches.
        warp_previous_frame: Pass ``branch_step`` the branch's previous LR
            frame warped to this one (``previous_lr=``; see
            :func:`~vsr_multigrid.nets.recurrence.bidirectional_recurrence`).
    """
    _warn_small(net, lrs)
    net.check_if_mirror_extended(lrs)
    refill = {}
    if isinstance(net, IconVSRNet):
        h, w = lrs.shape[-2:]
        lrs = net.spatial_padding(lrs)  # EDVR's PCD needs multiples of 4
        t = lrs.size(1)
        keyframes = list(range(0, t, net.keyframe_stride))
        if keyframes[-1] != t - 1:
            keyframes.append(t - 1)  # the last frame is a keyframe, as in the stock forward
    flows_forward, flows_backward = net.compute_flow(lrs)
    if isinstance(net, IconVSRNet):
        refill = net.compute_refill_features(lrs, keyframes)
    out = bidirectional_recurrence(
        lrs, flows_forward, flows_backward,
        lambda lr, hidden, i, **kw: branch_step('backward', lr, hidden, (), refill.get(i), **kw),
        lambda lr, hidden, i, backward_feat, **kw: branch_step(
            'forward', lr, hidden, (backward_feat,) if refill else (), refill.get(i), **kw),
        reconstruct,
        hidden_channels, flow_warp, warp_previous_frame)
    if isinstance(net, IconVSRNet):
        out = out[..., :4 * h, :4 * w]
    return out


class _SparsityLearning:
    """Stage 1 shared by the BasicVSR and IconVSR generators: scales on the
    stock layers (a mixin before the stock class)."""

    ARCH = None

    def _setup_sparsity(self, num_blocks: int, stream_mode: str, sparsity) -> None:
        if stream_mode not in core.STREAM_MODES:
            raise ValueError(f"model.generator.stream_mode: expected one of "
                             f"{core.STREAM_MODES}, got {stream_mode!r}")
        self.num_blocks = num_blocks
        self.stream_mode = stream_mode
        _check_residual_blocks(self)
        # Role -> module, resolved once (a plain dict: not registered twice;
        # deepcopy and .to() keep it pointing at this model's own modules).
        self._convs = generator_convs(self, num_blocks, self.ARCH)
        self.ssl = SparsityScales(core.channel_groups(self._convs), sparsity)

    def convs(self) -> Dict[str, nn.Conv2d]:
        return self._convs

    def sparsity_loss(self) -> torch.Tensor:
        return self.ssl.loss()

    def forward(self, lrs):
        convs, scales = self.convs(), self.ssl.scales
        if self.training and torch.is_grad_enabled():
            self.ssl.step(lambda: core.channel_importance(convs, scales))
        return recurrent_forward(
            self, lrs,
            lambda branch, lr, hidden, extra, refill: core.sparse_branch_step(
                convs, scales, branch, self.num_blocks, self.stream_mode, lr, hidden,
                extra, refill),
            lambda lr, fb, ff, i: core.sparse_reconstruct(convs, scales, lr, fb, ff),
            (self.mid_channels, self.mid_channels))


_STAGE1_ARGS = """
        stream_mode (str): ``'aligned'`` (the stream is pruned consistently
            across the branch, blocks stay dense) or ``'rsc'`` (SSL's
            Residual Sparsity Connection); see :mod:`vsr_multigrid.pruning.basicvsr`.
        sparsity (dict, optional): The regulariser's keys
            (:data:`vsr_multigrid.pruning.scales.REGULARIZER_DEFAULTS`)."""


@MODELS.register_module()
class SSLBasicVSRNet(_SparsityLearning, BasicVSRNet):
    __doc__ = """BasicVSRNet with SSL's learnable channel scales (stage 1).

    Args:
        mid_channels, num_blocks, spynet_pretrained: As ``BasicVSRNet``.""" + _STAGE1_ARGS

    ARCH = 'basicvsr'

    def __init__(self, mid_channels=64, num_blocks=30, spynet_pretrained=None,
                 stream_mode='aligned', sparsity=None):
        super().__init__(mid_channels=mid_channels, num_blocks=num_blocks,
                         spynet_pretrained=spynet_pretrained)
        self._setup_sparsity(num_blocks, stream_mode, sparsity)


@MODELS.register_module()
class SSLIconVSRNet(_SparsityLearning, IconVSRNet):
    __doc__ = """IconVSRNet with SSL's learnable channel scales (stage 1).

    The keyframe refill convs write the branch's stream, so they share its
    scales; EDVR and SPyNet are not pruned.

    Args:
        mid_channels, num_blocks, keyframe_stride, padding, spynet_pretrained,
            edvr_pretrained: As ``IconVSRNet``.""" + _STAGE1_ARGS

    ARCH = 'iconvsr'

    def __init__(self, mid_channels=64, num_blocks=30, keyframe_stride=5, padding=2,
                 spynet_pretrained=None, edvr_pretrained=None, stream_mode='aligned',
                 sparsity=None):
        super().__init__(mid_channels=mid_channels, num_blocks=num_blocks,
                         keyframe_stride=keyframe_stride, padding=padding,
                         spynet_pretrained=spynet_pretrained, edvr_pretrained=edvr_pretrained)
        self._setup_sparsity(num_blocks, stream_mode, sparsity)


@MODELS.register_module()
class SSLBasicVSR(BasicVSR):
    """MMagic's BasicVSR whose loss dict adds the generator's ``loss_sparsity``
    (IconVSR is trained by the same model type)."""

    def forward_train(self, inputs, data_samples=None, **kwargs):
        losses = super().forward_train(inputs, data_samples, **kwargs)
        if not hasattr(self.generator, 'sparsity_loss'):
            raise TypeError(f'SSLBasicVSR needs a generator with sparsity scales '
                            f'(SSLBasicVSRNet, SSLIconVSRNet), got '
                            f'{type(self.generator).__name__}')
        losses['loss_sparsity'] = self.generator.sparsity_loss()
        return losses


class _Pruned:
    """A physically pruned generator built from a channel spec (a mixin
    before the stock class): the stock layers replaced by narrower ones, the
    stock names kept."""

    ARCH_NAME = None

    def _load_spec(self, channel_spec) -> ChannelSpec:
        spec = ChannelSpec.load(channel_spec)
        if spec.arch != self.ARCH_NAME:
            raise ValueError(f'{type(self).__name__}: the channel spec is for {spec.arch}, '
                             f'expected {self.ARCH_NAME}')
        return spec

    def _build_pruned(self, spec: ChannelSpec) -> None:
        self.spec = spec
        self.num_blocks = spec.num_blocks
        names = role_names(spec.num_blocks, spec.core_arch)
        shapes = core.pruned_shapes(spec.counts(), spec.num_blocks, spec.mid_channels,
                                    spec.stream_mode, spec.core_arch)
        for role, (c_in, c_out) in shapes.items():
            old = self.get_submodule(names[role])
            parent, _, attr = names[role].rpartition('.')
            conv = nn.Conv2d(c_in, c_out, old.kernel_size, old.stride, old.padding,
                             bias=old.bias is not None)
            # The stock initialisation, for a pruned architecture trained from
            # scratch: MMagic's residual blocks scale kaiming by 0.1, its
            # PixelShufflePack by 1, the other convs keep torch's default.
            if '.block' in role:
                default_init_weights(conv, 0.1)
            elif role.startswith('upsample'):
                default_init_weights(conv, 1)
            setattr(self.get_submodule(parent) if parent else self, attr, conv)
        for branch in core.BRANCHES:
            index = spec.index(f'{branch}_stream') if spec.stream_mode == 'rsc' else None
            # Not in the state dict: the spec, not the checkpoint, defines the layout.
            self.register_buffer(f'{branch}_stream_index', index, persistent=False)
        self._register_load_state_dict_pre_hook(self._refuse_other_shapes)
        self._convs = generator_convs(self, spec.num_blocks, spec.core_arch)

    def convs(self) -> Dict[str, nn.Conv2d]:
        return self._convs

    def _refuse_other_shapes(self, state_dict, prefix, *args, **kwargs):
        # mmengine's loader only warns on a size mismatch and keeps the random
        # init; a pruned model with a dense (or other spec's) checkpoint must fail.
        # nn.Module's state_dict: the names loading sees, also in a subclass
        # that writes its checkpoints under other names (the BasicSR archs).
        for name, tensor in nn.Module.state_dict(self).items():
            found = state_dict.get(prefix + name)
            if found is not None and tuple(found.shape) != tuple(tensor.shape):
                raise ValueError(
                    f'checkpoint does not fit the channel spec: {prefix}{name} has shape '
                    f'{tuple(found.shape)} in the checkpoint, {tuple(tensor.shape)} in the '
                    'pruned model; load the weights written with this spec by tools/prune.py')

    def forward(self, lrs):
        convs = self.convs()
        return recurrent_forward(
            self, lrs,
            lambda branch, lr, hidden, extra, refill: core.pruned_branch_step(
                convs, branch, self.num_blocks, getattr(self, f'{branch}_stream_index'),
                lr, hidden, extra, refill),
            lambda lr, fb, ff, i: core.plain_reconstruct(convs, lr, fb, ff),
            tuple(self.spec.hidden_channels(b) for b in core.BRANCHES))


@MODELS.register_module()
class PrunedBasicVSRNet(_Pruned, BasicVSRNet):
    """A physically pruned BasicVSRNet, built from a channel spec.

    Args:
        channel_spec (str | dict): Path of the spec JSON written by
            ``tools/prune.py`` (or the dict itself).
        spynet_pretrained (str, optional): As ``BasicVSRNet``.
    """

    ARCH_NAME = 'BasicVSRNet'

    def __init__(self, channel_spec, spynet_pretrained=None):
        spec = self._load_spec(channel_spec)
        super().__init__(mid_channels=spec.mid_channels, num_blocks=spec.num_blocks,
                         spynet_pretrained=spynet_pretrained)
        self._build_pruned(spec)


@MODELS.register_module()
class PrunedIconVSRNet(_Pruned, IconVSRNet):
    """A physically pruned IconVSRNet, built from a channel spec.

    Args:
        channel_spec (str | dict): As ``PrunedBasicVSRNet``.
        spynet_pretrained, edvr_pretrained (str, optional): As ``IconVSRNet``.
    """

    ARCH_NAME = 'IconVSRNet'

    def __init__(self, channel_spec, spynet_pretrained=None, edvr_pretrained=None):
        spec = self._load_spec(channel_spec)
        super().__init__(mid_channels=spec.mid_channels, num_blocks=spec.num_blocks,
                         keyframe_stride=spec.keyframe_stride, padding=spec.padding,
                         spynet_pretrained=spynet_pretrained, edvr_pretrained=edvr_pretrained)
        self._build_pruned(spec)


@MODELS.register_module()
class TemporalFinetuneBasicVSR(TeacherDistillation, BasicVSR):
    """SSL stage 3 with Temporal Finetuning (:mod:`vsr_multigrid.pruning.temporal`).

    MMagic's BasicVSR (pixel loss, ``fix_iter``) whose loss dict adds
    ``loss_temporal``: the generator's output distilled from a frozen
    teacher's, weighted up along the clip. Train it on longer clips than
    stage 1 (the config's ``num_input_frames``).

    Args:
        generator, pixel_loss, ...: As ``BasicVSR``.
        teacher (dict): ``checkpoint`` (the stage-1 checkpoint; its saved
            config gives the generator) and optionally ``generator`` (a
            generator config, for a checkpoint without one). Not part of the
            state dict: a resumed run reloads it from the file.
        distill_weight (float): Weight of ``loss_temporal``.
        late_weight (float): Weight of the last frame relative to the first.
    """

    def __init__(self, generator, pixel_loss, teacher=None, distill_weight=1.0,
                 late_weight=2.0, **kwargs):
        super().__init__(generator=generator, pixel_loss=pixel_loss, **kwargs)
        self._setup_teacher(teacher, distill_weight, late_weight)

    def forward_train(self, inputs, data_samples=None, **kwargs):
        losses = super().forward_train(inputs, data_samples, **kwargs)
        losses['loss_temporal'] = self.distillation_loss(inputs)
        return losses
