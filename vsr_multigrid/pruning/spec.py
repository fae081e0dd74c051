"""The channel spec: what a pruned BasicVSR or IconVSR keeps, as JSON.

A pruned generator builds its layers from this file alone, and the prune tool
writes it beside the sliced weights. Format::

    {"format": "vsr_multigrid.channel_spec/1", "arch": "BasicVSRNet",
     "mid_channels": 64, "num_blocks": 30, "stream_mode": "aligned",
     "kept": {"backward_stream": [0, 3, ...], "backward_block0": [...], ...}}

``kept`` lists, per channel group of :func:`.basicvsr.channel_groups`, the
sorted indices that stay (RSC needs the stream's to add block outputs into the
full-width identity; the others document the slicing). An ``IconVSRNet`` spec
also carries ``keyframe_stride`` and ``padding``.
"""
import json
from dataclasses import dataclass, field
from typing import Dict, List, Mapping

import torch

from .basicvsr import BRANCHES, STREAM_MODES

__all__ = ['ChannelSpec', 'SPEC_FORMAT']

SPEC_FORMAT = 'vsr_multigrid.channel_spec/1'
#: Generator type of the dense model -> architecture name of :mod:`.basicvsr`.
ARCHS = {'BasicVSRNet': 'basicvsr', 'IconVSRNet': 'iconvsr'}


@dataclass
class ChannelSpec:
    arch: str
    mid_channels: int
    num_blocks: int
    stream_mode: str
    kept: Dict[str, List[int]] = field(default_factory=dict)
    upsample_channels: int = 64  # upsample2's post-shuffle width in the dense model
    hr_channels: int = 64
    keyframe_stride: int = 5  # IconVSR only: its keyframes and refill padding
    padding: int = 2

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"channel spec 'arch': expected one of {tuple(ARCHS)}, "
                             f'got {self.arch!r}')
        if self.stream_mode not in STREAM_MODES:
            raise ValueError(f"channel spec 'stream_mode': expected one of {STREAM_MODES}, "
                             f'got {self.stream_mode!r}')
        for key in ('mid_channels', 'num_blocks', 'upsample_channels', 'hr_channels',
                    'keyframe_stride', 'padding'):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f'channel spec {key!r}: expected a positive int, got {value!r}')
        sizes = self.dense_groups()
        missing = sorted(set(sizes) - set(self.kept))
        extra = sorted(set(self.kept) - set(sizes))
        if missing or extra:
            raise ValueError(f"channel spec 'kept': missing groups {missing}, unknown groups "
                             f'{extra} (for {self.num_blocks} blocks per branch)')
        for name, size in sizes.items():
            index = self.kept[name]
            ok = isinstance(index, (list, tuple)) and index and all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < size for i in index)
            if not ok or list(index) != sorted(set(index)):
                raise ValueError(f"channel spec 'kept.{name}': expected sorted distinct "
                                 f'indices in [0, {size}), at least one, got {index!r}')
            self.kept[name] = list(index)

    def dense_groups(self) -> Dict[str, int]:
        """Group sizes of the dense model this spec prunes."""
        groups = {}
        for branch in BRANCHES:
            groups[f'{branch}_stream'] = self.mid_channels
            for k in range(self.num_blocks):
                groups[f'{branch}_block{k}'] = self.mid_channels
        groups['upsample1'] = self.mid_channels
        groups['upsample2'] = self.upsample_channels
        groups['conv_hr'] = self.hr_channels
        return groups

    @property
    def core_arch(self) -> str:
        """The architecture name of :mod:`.basicvsr` (``'basicvsr'``/``'iconvsr'``)."""
        return ARCHS[self.arch]

    def counts(self) -> Dict[str, int]:
        return {name: len(index) for name, index in self.kept.items()}

    def index(self, name: str) -> torch.Tensor:
        return torch.tensor(self.kept[name], dtype=torch.long)

    def hidden_channels(self, branch: str) -> int:
        """Width of a branch's stream and hidden state in the pruned model."""
        return len(self.kept[f'{branch}_stream']) if self.stream_mode == 'aligned' \
            else self.mid_channels

    def to_dict(self) -> dict:
        return dict(format=SPEC_FORMAT, arch=self.arch, mid_channels=self.mid_channels,
                    num_blocks=self.num_blocks, stream_mode=self.stream_mode,
                    upsample_channels=self.upsample_channels, hr_channels=self.hr_channels,
                    **(dict(keyframe_stride=self.keyframe_stride, padding=self.padding)
                       if self.arch == 'IconVSRNet' else {}),
                    kept=self.kept)

    def save(self, path: str) -> None:
        with open(path, 'w') as f:
            json.dump(self.to_dict(), f, indent=1)

    @classmethod
    def from_dict(cls, data: Mapping, source: str = 'channel spec') -> 'ChannelSpec':
        if not isinstance(data, Mapping) or data.get('format') != SPEC_FORMAT:
            raise ValueError(f"{source}: expected a dict with format {SPEC_FORMAT!r}, got "
                             f"{data.get('format') if isinstance(data, Mapping) else data!r}")
        data = dict(data)
        data.pop('format')
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f'{source}: unknown keys {unknown}')
        return cls(**data)

    @classmethod
    def load(cls, path_or_dict) -> 'ChannelSpec':
        if isinstance(path_or_dict, ChannelSpec):
            return path_or_dict
        if path_or_dict is None:
            raise ValueError('model.generator.channel_spec is not set: give the '
                             'channel_spec.json that tools/prune.py wrote')
        if isinstance(path_or_dict, Mapping):
            return cls.from_dict(path_or_dict)
        try:
            with open(path_or_dict) as f:
                data = json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f'channel spec {path_or_dict!r} not found (written by '
                                    'tools/prune.py beside the pruned checkpoint)') from None
        return cls.from_dict(data, source=f'channel spec {path_or_dict}')
