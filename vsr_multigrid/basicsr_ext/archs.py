"""The plugin's generators as BasicSR archs, selectable by ``network_g.type``.

Each arch is the MMagic adapter's generator (the one implementation of SSL
stage 1, the pruned network and skip routing) seen through BasicSR's
argument and parameter names:

- arguments as BasicSR's ``BasicVSR``/``IconVSR`` (``num_feat``,
  ``num_block``, ``spynet_path``, ``keyframe_stride``, ``temporal_padding``,
  ``edvr_path``; the last two for IconVSR) plus the plugin's own keys
  (``stream_mode``/``sparsity``, ``channel_spec``, ``routing``; the
  ``RoutedPruned`` archs take both of the last two);
- ``state_dict()`` and ``load_state_dict()`` use BasicSR's parameter names
  (:mod:`.convert`), so a stock BasicSR checkpoint (``pretrain_network_g``)
  loads and the checkpoints BasicSR writes are BasicSR checkpoints. The
  plugin's own layers (SSL's ``ssl.`` scales, the routers) keep their names.
  A stock checkpoint, which has none of them, leaves them at their start
  values (scales 1, fresh routers), as on the MMagic side.

``spynet_path``/``edvr_path`` read BasicSR's pretrained files (``params``,
BasicSR names). IconVSR's EDVR extractor is MMagic's, which is 64 channels
wide whatever ``num_feat`` is (BasicSR builds it at ``num_feat``): the two
only share checkpoints at ``num_feat: 64``, the published width; other
widths fail to load with the layer named.
"""
import contextlib
import os.path as osp
import re
from collections import OrderedDict

import torch

from vsr_multigrid.basicsr_ext import ARCH_REGISTRY
from vsr_multigrid.engine.pruning import (PrunedBasicVSRNet, PrunedIconVSRNet, SSLBasicVSRNet,
                                          SSLIconVSRNet)
from vsr_multigrid.engine.routing import (RoutedBasicVSRNet, RoutedIconVSRNet,
                                          RoutedPrunedBasicVSRNet, RoutedPrunedIconVSRNet)

from .convert import basicsr_to_mmagic, mmagic_to_basicsr

__all__ = ['SSLBasicVSR', 'SSLIconVSR', 'PrunedBasicVSR', 'PrunedIconVSR', 'RoutedBasicVSR',
           'RoutedIconVSR', 'RoutedPrunedBasicVSR', 'RoutedPrunedIconVSR', 'MMAGIC_GENERATORS',
           'mmagic_arguments']

#: BasicSR arch (stock or the plugin's) -> the MMagic generator it is.
MMAGIC_GENERATORS = {
    'BasicVSR': 'BasicVSRNet', 'IconVSR': 'IconVSRNet',
    'SSLBasicVSR': 'SSLBasicVSRNet', 'SSLIconVSR': 'SSLIconVSRNet',
    'PrunedBasicVSR': 'PrunedBasicVSRNet', 'PrunedIconVSR': 'PrunedIconVSRNet',
    'RoutedBasicVSR': 'RoutedBasicVSRNet', 'RoutedIconVSR': 'RoutedIconVSRNet',
    'RoutedPrunedBasicVSR': 'RoutedPrunedBasicVSRNet',
    'RoutedPrunedIconVSR': 'RoutedPrunedIconVSRNet'}
#: BasicSR's argument names -> MMagic's; the plugin's own keys keep theirs.
_RENAMED = {'num_feat': 'mid_channels', 'num_block': 'num_blocks',
            'temporal_padding': 'padding'}
#: Arguments that name pretrained files rather than shape the network.
PRETRAINED_ARGUMENTS = ('spynet_path', 'edvr_path')


def mmagic_arguments(network_g: dict) -> dict:
    """BasicSR ``network_g`` arguments (without ``type`` and the pretrained
    files) as the MMagic generator's: the one mapping the archs below and
    ``tools/prune.py`` use."""
    return {_RENAMED.get(k, k): v for k, v in network_g.items()
            if k not in PRETRAINED_ARGUMENTS and k != 'type'}


@contextlib.contextmanager
def _option_names():
    """The shared generators' errors name MMagic's config keys; say BasicSR's."""
    try:
        yield
    except ValueError as error:
        raise ValueError(str(error).replace('model.generator.', 'network_g.')) from None


class _BasicSRNames:
    """BasicSR's parameter names on an MMagic generator (a mixin before it)."""

    #: :mod:`.convert`'s architecture name.
    CONVERT_ARCH = 'basicvsr'
    #: Name prefixes of the plugin's own parameters and buffers.
    OWN = ()

    def state_dict(self, *args, destination=None, prefix='', keep_vars=False):
        if args:
            raise TypeError(f'{type(self).__name__}.state_dict takes keyword arguments only')
        own = super().state_dict(keep_vars=keep_vars)
        out = OrderedDict() if destination is None else destination
        for name, value in mmagic_to_basicsr(own, self.CONVERT_ARCH, self.OWN).items():
            out[prefix + name] = value
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        ignored = [k for k in state_dict if k.endswith('.ignore')]
        if ignored:
            # BasicSR's non-strict loading renames weights of another shape
            # to '<name>.ignore' and goes on with the random init.
            raise ValueError(
                f'{type(self).__name__}: {len(ignored)} weight(s) of the checkpoint do not fit '
                f'this network, e.g. {ignored[0][:-len(".ignore")]}, and strict_load_g: false '
                'would train from their random init; load a checkpoint of this shape')
        state = basicsr_to_mmagic(state_dict, self.CONVERT_ARCH, self.OWN)
        stock = self.OWN and not any(k.startswith(self.OWN) for k in state)
        try:
            # A stock (or pruned, for the routed pruned archs) checkpoint has
            # none of the plugin's layers: they keep their start values.
            result = super().load_state_dict(state, strict=strict and not stock, assign=assign)
        except ValueError as error:  # the pruned archs' shape check names MMagic's layer
            raise ValueError(self._basicsr_names_in(str(error))) from None
        if stock:
            missing = [k for k in result.missing_keys if not k.startswith(self.OWN)]
            if strict and (missing or result.unexpected_keys):
                raise RuntimeError(f'{type(self).__name__}: the stock checkpoint does not fit; '
                                   f'missing {missing[:5]}, unexpected '
                                   f'{result.unexpected_keys[:5]}')
        return result

    def _basicsr_names_in(self, message: str) -> str:
        def rename(match):
            try:
                return next(iter(mmagic_to_basicsr({match[0]: None}, self.CONVERT_ARCH,
                                                   self.OWN)))
            except ValueError:
                return match[0]
        return re.sub(r'[A-Za-z_][\w.]*\.(?:weight|bias)\b', rename, message)

    def _load_basicsr_part(self, part: str, path, key: str) -> None:
        """Load BasicSR's pretrained ``spynet``/``edvr`` file into that part."""
        if path is None:
            return
        if not isinstance(path, str) or not osp.isfile(path):
            raise FileNotFoundError(f'network_g.{key}: {path!r} is not a file')
        state = torch.load(path, map_location='cpu', weights_only=True)
        state = state.get('params', state)
        renamed = basicsr_to_mmagic({f'{part}.{k}': v for k, v in state.items()},
                                    self.CONVERT_ARCH)
        try:
            getattr(self, part).load_state_dict(
                {k[len(part) + 1:]: v for k, v in renamed.items()}, strict=True)
        except RuntimeError as error:
            raise ValueError(f'network_g.{key}: {path} is not a BasicSR {part} of this '
                             f'shape: {error}') from None


class _BasicVSRArgs(_BasicSRNames):

    def _pretrained(self, spynet_path):
        self._load_basicsr_part('spynet', spynet_path, 'spynet_path')


class _IconVSRArgs(_BasicSRNames):
    CONVERT_ARCH = 'iconvsr'

    def _pretrained(self, spynet_path, edvr_path):
        self._load_basicsr_part('spynet', spynet_path, 'spynet_path')
        self._load_basicsr_part('edvr', edvr_path, 'edvr_path')


_SSL_OWN = ('ssl.',)
_ROUTED_OWN = ('backward_router.', 'forward_router.', 'route_iter')


@ARCH_REGISTRY.register()
class SSLBasicVSR(_BasicVSRArgs, SSLBasicVSRNet):
    """BasicSR's BasicVSR with SSL's channel scales (stage 1); see
    :class:`vsr_multigrid.engine.pruning.SSLBasicVSRNet` for ``stream_mode``
    and ``sparsity``. Train with ``model_type: SSLVideoRecurrentModel``."""

    OWN = _SSL_OWN

    def __init__(self, num_feat=64, num_block=15, spynet_path=None, stream_mode='aligned',
                 sparsity=None):
        with _option_names():
            super().__init__(**mmagic_arguments(dict(
                num_feat=num_feat, num_block=num_block, stream_mode=stream_mode,
                sparsity=sparsity)))
        self._pretrained(spynet_path)


@ARCH_REGISTRY.register()
class SSLIconVSR(_IconVSRArgs, SSLIconVSRNet):
    """BasicSR's IconVSR with SSL's channel scales (stage 1)."""

    OWN = _SSL_OWN

    def __init__(self, num_feat=64, num_block=15, keyframe_stride=5, temporal_padding=2,
                 spynet_path=None, edvr_path=None, stream_mode='aligned', sparsity=None):
        with _option_names():
            super().__init__(**mmagic_arguments(dict(
                num_feat=num_feat, num_block=num_block, keyframe_stride=keyframe_stride,
                temporal_padding=temporal_padding, stream_mode=stream_mode,
                sparsity=sparsity)))
        self._pretrained(spynet_path, edvr_path)


@ARCH_REGISTRY.register()
class PrunedBasicVSR(_BasicVSRArgs, PrunedBasicVSRNet):
    """A physically pruned BasicVSR built from ``channel_spec`` (the JSON
    ``tools/prune.py`` writes, the same format as MMagic's). A checkpoint of
    another shape is refused, naming the layer."""

    def __init__(self, channel_spec, spynet_path=None):
        with _option_names():
            super().__init__(channel_spec=channel_spec)
        self._pretrained(spynet_path)


@ARCH_REGISTRY.register()
class PrunedIconVSR(_IconVSRArgs, PrunedIconVSRNet):
    """A physically pruned IconVSR built from ``channel_spec``."""

    def __init__(self, channel_spec, spynet_path=None, edvr_path=None):
        with _option_names():
            super().__init__(channel_spec=channel_spec)
        self._pretrained(spynet_path, edvr_path)


@ARCH_REGISTRY.register()
class RoutedBasicVSR(_BasicVSRArgs, RoutedBasicVSRNet):
    """BasicSR's BasicVSR whose residual blocks run per patch where a
    confidence estimator says so; ``routing``: the keys of
    :data:`vsr_multigrid.routing.config.ROUTING_DEFAULTS`. Train with
    ``model_type: RoutedVideoRecurrentModel``."""

    OWN = _ROUTED_OWN

    def __init__(self, num_feat=64, num_block=15, spynet_path=None, routing=None):
        with _option_names():
            super().__init__(**mmagic_arguments(dict(
                num_feat=num_feat, num_block=num_block, routing=routing)))
        self._pretrained(spynet_path)


@ARCH_REGISTRY.register()
class RoutedIconVSR(_IconVSRArgs, RoutedIconVSRNet):
    """BasicSR's IconVSR with routed residual blocks."""

    OWN = _ROUTED_OWN

    def __init__(self, num_feat=64, num_block=15, keyframe_stride=5, temporal_padding=2,
                 spynet_path=None, edvr_path=None, routing=None):
        with _option_names():
            super().__init__(**mmagic_arguments(dict(
                num_feat=num_feat, num_block=num_block, keyframe_stride=keyframe_stride,
                temporal_padding=temporal_padding, routing=routing)))
        self._pretrained(spynet_path, edvr_path)


@ARCH_REGISTRY.register()
class RoutedPrunedBasicVSR(_BasicVSRArgs, RoutedPrunedBasicVSRNet):
    """Skip routing on top of SSL: the pruned BasicVSR of ``channel_spec``
    (aligned layout) with routed residual blocks. A dense checkpoint is
    refused, naming the layer. Train with ``model_type: RoutedVideoRecurrentModel``."""

    OWN = _ROUTED_OWN

    def __init__(self, channel_spec, spynet_path=None, routing=None):
        with _option_names():
            super().__init__(channel_spec=channel_spec, routing=routing)
        self._pretrained(spynet_path)


@ARCH_REGISTRY.register()
class RoutedPrunedIconVSR(_IconVSRArgs, RoutedPrunedIconVSRNet):
    """The pruned IconVSR of ``channel_spec`` (aligned layout) with routed
    residual blocks."""

    OWN = _ROUTED_OWN

    def __init__(self, channel_spec, spynet_path=None, edvr_path=None, routing=None):
        with _option_names():
            super().__init__(channel_spec=channel_spec, routing=routing)
        self._pretrained(spynet_path, edvr_path)
