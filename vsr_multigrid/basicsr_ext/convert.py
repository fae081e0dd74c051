"""Parameter names of BasicVSR between MMagic and BasicSR.

The two frameworks implement the same network (same layers, same order of
operations, same SPyNet and warping), only under other names: MMagic's
``BasicVSRNet`` wraps SPyNet's convs in ``ConvModule`` (``.conv``) and its
upsampling convs in ``PixelShufflePack``; BasicSR's ``BasicVSR`` keeps bare
convs, with SPyNet's ReLUs between them in one ``nn.Sequential``. A model
trained in one framework is evaluated in the other by renaming its weights.
Plain Python (no MMagic or BasicSR import); ``tools/convert_checkpoint.py``
reads and writes the two checkpoint formats.
"""
import re
from typing import Callable, Dict, List, Mapping, Tuple

__all__ = ['mmagic_to_basicsr', 'basicsr_to_mmagic', 'ARCHS']

Rule = Tuple[str, Callable[[re.Match], str]]


def _same(prefix_from: str, prefix_to: str) -> Rule:
    return (rf'{re.escape(prefix_from)}(\..+)?$', lambda m: prefix_to + (m.group(1) or ''))


#: MMagic name pattern -> BasicSR name, per architecture. SPyNet's five convs
#: are every other entry of BasicSR's Sequential (a ReLU between each).
_MMAGIC_TO_BASICSR: Dict[str, List[Rule]] = {
    'basicvsr': [
        (r'spynet\.(mean|std)$', lambda m: f'spynet.{m.group(1)}'),
        (r'spynet\.basic_module\.(\d+)\.basic_module\.(\d+)\.conv\.(weight|bias)$',
         lambda m: f'spynet.basic_module.{m.group(1)}.basic_module.'
                   f'{2 * int(m.group(2))}.{m.group(3)}'),
        (r'(backward|forward)_resblocks\.main\.(.+)$',
         lambda m: f'{m.group(1)}_trunk.main.{m.group(2)}'),
        _same('fusion', 'fusion'),
        _same('upsample1.upsample_conv', 'upconv1'),
        _same('upsample2.upsample_conv', 'upconv2'),
        _same('conv_hr', 'conv_hr'),
        _same('conv_last', 'conv_last'),
    ],
}
ARCHS = tuple(_MMAGIC_TO_BASICSR)

_BASICSR_TO_MMAGIC: Dict[str, List[Rule]] = {
    'basicvsr': [
        (r'spynet\.(mean|std)$', lambda m: f'spynet.{m.group(1)}'),
        (r'spynet\.basic_module\.(\d+)\.basic_module\.(\d+)\.(weight|bias)$',
         lambda m: f'spynet.basic_module.{m.group(1)}.basic_module.'
                   f'{int(m.group(2)) // 2}.conv.{m.group(3)}'),
        (r'(backward|forward)_trunk\.main\.(.+)$',
         lambda m: f'{m.group(1)}_resblocks.main.{m.group(2)}'),
        _same('fusion', 'fusion'),
        _same('upconv1', 'upsample1.upsample_conv'),
        _same('upconv2', 'upsample2.upsample_conv'),
        _same('conv_hr', 'conv_hr'),
        _same('conv_last', 'conv_last'),
    ],
}


def _rename(state: Mapping, rules: List[Rule], source: str, arch: str) -> dict:
    if arch not in ARCHS:
        raise ValueError(f'arch: expected one of {ARCHS}, got {arch!r}')
    out, unknown = {}, []
    for name, value in state.items():
        for pattern, target in rules:
            match = re.match(pattern, name)
            if match:
                out[target(match)] = value
                break
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(f'{len(unknown)} {source} parameter(s) of no known {arch} layer, e.g. '
                         f'{unknown[:5]}: not a {source} {arch} generator state dict')
    return out


def mmagic_to_basicsr(state: Mapping, arch: str = 'basicvsr') -> dict:
    """An MMagic generator state dict (no ``generator.`` prefix) under BasicSR's names."""
    return _rename(state, _MMAGIC_TO_BASICSR[arch] if arch in ARCHS else [], 'MMagic', arch)


def basicsr_to_mmagic(state: Mapping, arch: str = 'basicvsr') -> dict:
    """A BasicSR network state dict (``params``) under MMagic's generator names."""
    return _rename(state, _BASICSR_TO_MMAGIC[arch] if arch in ARCHS else [], 'BasicSR', arch)
