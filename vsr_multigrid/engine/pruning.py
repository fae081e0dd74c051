"""MMagic adapters of SSL pruning: stage-1 and pruned BasicVSR generators.

The method lives in :mod:`vsr_multigrid.pruning` (plain torch); this module
only maps MMagic's ``BasicVSRNet`` layer names to its roles, reuses the stock
flow computation, and adds the sparsity loss to BasicVSR's loss dict.

- ``SSLBasicVSRNet``: the stock generator (same parameter names, so a dense
  checkpoint loads) plus per-channel scales and SSL's growing regulariser.
- ``SSLBasicVSR``: MMagic's ``BasicVSR`` model whose loss dict carries
  ``loss_sparsity`` (works under DDP and with ``fix_iter``).
- ``PrunedBasicVSRNet``: built from a channel spec (``tools/prune.py``), with
  the stock names; a checkpoint of another shape is refused, naming the layer.
"""
from typing import Dict

import torch
from mmagic.models.editors.basicvsr.basicvsr import BasicVSR
from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet
from mmagic.models.utils import flow_warp
from mmagic.registry import MODELS
from torch import nn

from ..nets.recurrence import bidirectional_recurrence
from ..pruning import basicvsr as core
from ..pruning.scales import SparsityScales
from ..pruning.spec import ChannelSpec

__all__ = ['basicvsr_convs', 'SSLBasicVSRNet', 'SSLBasicVSR', 'PrunedBasicVSRNet']

#: MMagic ``BasicVSRNet`` name of each role of :mod:`vsr_multigrid.pruning.basicvsr`
#: (``{k}``: block index). The only place these names appear.
MMAGIC_BASICVSR_NAMES = {
    '{branch}.input': '{branch}_resblocks.main.0',
    '{branch}.block{k}.conv1': '{branch}_resblocks.main.2.{k}.conv1',
    '{branch}.block{k}.conv2': '{branch}_resblocks.main.2.{k}.conv2',
    'fusion': 'fusion',
    'upsample1': 'upsample1.upsample_conv',
    'upsample2': 'upsample2.upsample_conv',
    'conv_hr': 'conv_hr',
    'conv_last': 'conv_last',
}


def role_names(num_blocks: int) -> Dict[str, str]:
    """Role -> module name in MMagic's BasicVSRNet."""
    names = {}
    for pattern, name in MMAGIC_BASICVSR_NAMES.items():
        if '{branch}' not in pattern:
            names[pattern] = name
            continue
        for branch in core.BRANCHES:
            blocks = range(num_blocks) if '{k}' in pattern else [None]
            for k in blocks:
                names[pattern.format(branch=branch, k=k)] = name.format(branch=branch, k=k)
    return names


def basicvsr_convs(net: nn.Module, num_blocks: int) -> Dict[str, nn.Conv2d]:
    """Role -> conv module of an MMagic BasicVSRNet (stock, stage-1 or pruned)."""
    modules = dict(net.named_modules())
    convs = {}
    for role, name in role_names(num_blocks).items():
        if name not in modules:
            raise ValueError(f'{type(net).__name__} has no module {name!r} (role {role!r}): '
                             'not an MMagic BasicVSRNet layout')
        convs[role] = modules[name]
    core.check_convs(convs)
    return convs


def _check_residual_blocks(net: nn.Module, num_blocks: int) -> None:
    for branch in core.BRANCHES:
        for block in getattr(net, f'{branch}_resblocks').main[2]:
            if getattr(block, 'res_scale', 1.0) != 1.0:
                raise ValueError('SSL pruning supports residual blocks with res_scale=1 '
                                 f'(BasicVSR\'s), got {block.res_scale}')


def _flows(net: BasicVSRNet, lrs: torch.Tensor):
    """The stock input checks and flow computation of BasicVSRNet.forward."""
    n, t, c, h, w = lrs.size()
    if (h < 64 or w < 64) and not net._raised_warning:
        from logging import WARNING

        from mmengine import print_log
        print_log(f'{net.__class__.__name__} is designed for input larger than 64x64, but '
                  f'the resolution of current image is {h}x{w}. We recommend you to check '
                  'your input.', 'current', WARNING)
        net._raised_warning = True
    net.check_if_mirror_extended(lrs)
    return net.compute_flow(lrs)


@MODELS.register_module()
class SSLBasicVSRNet(BasicVSRNet):
    """BasicVSRNet with SSL's learnable channel scales (stage 1).

    Args:
        mid_channels, num_blocks, spynet_pretrained: As ``BasicVSRNet``.
        stream_mode (str): ``'aligned'`` (the stream is pruned consistently
            across the branch, blocks stay dense) or ``'rsc'`` (SSL's
            Residual Sparsity Connection); see :mod:`vsr_multigrid.pruning.basicvsr`.
        sparsity (dict, optional): The regulariser's keys
            (:data:`vsr_multigrid.pruning.scales.REGULARIZER_DEFAULTS`).
    """

    def __init__(self, mid_channels=64, num_blocks=30, spynet_pretrained=None,
                 stream_mode='aligned', sparsity=None):
        super().__init__(mid_channels=mid_channels, num_blocks=num_blocks,
                         spynet_pretrained=spynet_pretrained)
        if stream_mode not in core.STREAM_MODES:
            raise ValueError(f"model.generator.stream_mode: expected one of "
                             f"{core.STREAM_MODES}, got {stream_mode!r}")
        self.num_blocks = num_blocks
        self.stream_mode = stream_mode
        _check_residual_blocks(self, num_blocks)
        # Role -> module, resolved once (a plain dict: not registered twice;
        # deepcopy and .to() keep it pointing at this model's own modules).
        self._convs = basicvsr_convs(self, num_blocks)
        self.ssl = SparsityScales(core.channel_groups(self._convs), sparsity)

    def convs(self) -> Dict[str, nn.Conv2d]:
        return self._convs

    def forward(self, lrs):
        convs, scales = self.convs(), self.ssl.scales
        if self.training and torch.is_grad_enabled():
            self.ssl.step(lambda: core.channel_importance(convs, scales))
        flows_forward, flows_backward = _flows(self, lrs)

        def step(branch):
            return lambda lr, hidden, i: core.sparse_branch_step(
                convs, scales, branch, self.num_blocks, self.stream_mode, lr, hidden)

        return bidirectional_recurrence(
            lrs, flows_forward, flows_backward, step('backward'), step('forward'),
            lambda lr, fb, ff, i: core.sparse_reconstruct(convs, scales, lr, fb, ff),
            (self.mid_channels, self.mid_channels), flow_warp)

    def sparsity_loss(self) -> torch.Tensor:
        return self.ssl.loss()


@MODELS.register_module()
class SSLBasicVSR(BasicVSR):
    """MMagic's BasicVSR whose loss dict adds the generator's ``loss_sparsity``."""

    def forward_train(self, inputs, data_samples=None, **kwargs):
        losses = super().forward_train(inputs, data_samples, **kwargs)
        if not hasattr(self.generator, 'sparsity_loss'):
            raise TypeError(f'SSLBasicVSR needs a generator with sparsity scales '
                            f'(SSLBasicVSRNet), got {type(self.generator).__name__}')
        losses['loss_sparsity'] = self.generator.sparsity_loss()
        return losses


@MODELS.register_module()
class PrunedBasicVSRNet(BasicVSRNet):
    """A physically pruned BasicVSRNet, built from a channel spec.

    Args:
        channel_spec (str | dict): Path of the spec JSON written by
            ``tools/prune.py`` (or the dict itself).
        spynet_pretrained (str, optional): As ``BasicVSRNet``.
    """

    def __init__(self, channel_spec, spynet_pretrained=None):
        spec = ChannelSpec.load(channel_spec)
        if spec.arch != 'BasicVSRNet':
            raise ValueError(f'PrunedBasicVSRNet: the channel spec is for {spec.arch}')
        super().__init__(mid_channels=spec.mid_channels, num_blocks=spec.num_blocks,
                         spynet_pretrained=spynet_pretrained)
        self.spec = spec
        self.num_blocks = spec.num_blocks
        names = role_names(spec.num_blocks)
        shapes = core.pruned_shapes(spec.counts(), spec.num_blocks, spec.mid_channels,
                                    spec.stream_mode)
        for role, (c_in, c_out) in shapes.items():
            old = self.get_submodule(names[role])
            parent, _, attr = names[role].rpartition('.')
            setattr(self.get_submodule(parent) if parent else self, attr,
                    nn.Conv2d(c_in, c_out, old.kernel_size, old.stride, old.padding,
                              bias=old.bias is not None))
        for branch in core.BRANCHES:
            index = spec.index(f'{branch}_stream') if spec.stream_mode == 'rsc' else None
            # Not in the state dict: the spec, not the checkpoint, defines the layout.
            self.register_buffer(f'{branch}_stream_index', index, persistent=False)
        self._register_load_state_dict_pre_hook(self._refuse_other_shapes)
        self._convs = basicvsr_convs(self, spec.num_blocks)  # resolved once, as above

    def convs(self) -> Dict[str, nn.Conv2d]:
        return self._convs

    def _refuse_other_shapes(self, state_dict, prefix, *args, **kwargs):
        # mmengine's loader only warns on a size mismatch and keeps the random
        # init; a pruned model with a dense (or other spec's) checkpoint must fail.
        for name, tensor in self.state_dict().items():
            found = state_dict.get(prefix + name)
            if found is not None and tuple(found.shape) != tuple(tensor.shape):
                raise ValueError(
                    f'checkpoint does not fit the channel spec: {prefix}{name} has shape '
                    f'{tuple(found.shape)} in the checkpoint, {tuple(tensor.shape)} in the '
                    'pruned model; load the weights written with this spec by tools/prune.py')

    def forward(self, lrs):
        convs = self.convs()
        flows_forward, flows_backward = _flows(self, lrs)

        def step(branch):
            index = getattr(self, f'{branch}_stream_index')
            return lambda lr, hidden, i: core.pruned_branch_step(
                convs, branch, self.num_blocks, index, lr, hidden)

        hidden = tuple(self.spec.hidden_channels(b) for b in core.BRANCHES)
        return bidirectional_recurrence(
            lrs, flows_forward, flows_backward, step('backward'), step('forward'),
            lambda lr, fb, ff, i: core.plain_reconstruct(convs, lr, fb, ff),
            hidden, flow_warp)
