"""Parameter names of BasicVSR and IconVSR between MMagic and BasicSR.

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
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

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


# IconVSR adds EDVR's feature extractor and the refill convs. MMagic wraps
# some EDVR convs in ConvModule (``.conv``) and names the PCD module and the
# pyramid convs otherwise; the rest (BasicVSR's layers) is as above.
_EDVR_CONV_MODULES = (r'pcd_align\.(offset_conv[123]|feat_conv)\.l[123]',
                      r'pcd_align\.cas_offset_conv[12]',
                      r'fusion\.(feat_fusion|spatial_attn[1-4]|spatial_attn_l[1-3]|spatial_attn_add1)')
_EDVR_PYRAMID = {'conv_l2_1': 'feat_l2_conv1', 'conv_l2_2': 'feat_l2_conv2',
                 'conv_l3_1': 'feat_l3_conv1', 'conv_l3_2': 'feat_l3_conv2'}


def _edvr_to_mmagic(name: str) -> str:
    """A BasicSR EDVR-extractor name (after ``edvr.``) under MMagic's name."""
    head, _, leaf = name.rpartition('.')
    if head in _EDVR_PYRAMID:
        return f'{_EDVR_PYRAMID[head]}.conv.{leaf}'
    if any(re.fullmatch(p, head) for p in _EDVR_CONV_MODULES):
        head = f'{head}.conv'
    return f"{head.replace('pcd_align', 'pcd_alignment', 1)}.{leaf}"


def _edvr_to_basicsr(name: str) -> str:
    """A MMagic EDVR-extractor name (after ``edvr.``) under BasicSR's name."""
    name = name.replace('pcd_alignment', 'pcd_align', 1)
    head, _, leaf = name.rpartition('.')
    if head.endswith('.conv'):
        head = head[:-len('.conv')]
    pyramid = {v: k for k, v in _EDVR_PYRAMID.items()}
    return f'{pyramid.get(head, head)}.{leaf}'


_MMAGIC_TO_BASICSR['iconvsr'] = _MMAGIC_TO_BASICSR['basicvsr'] + [
    (r'edvr\.(.+)$', lambda m: f'edvr.{_edvr_to_basicsr(m.group(1))}'),
    _same('backward_fusion', 'backward_fusion'),
    _same('forward_fusion', 'forward_fusion'),
]
_BASICSR_TO_MMAGIC['iconvsr'] = _BASICSR_TO_MMAGIC['basicvsr'] + [
    (r'edvr\.(.+)$', lambda m: f'edvr.{_edvr_to_mmagic(m.group(1))}'),
    _same('backward_fusion', 'backward_fusion'),
    _same('forward_fusion', 'forward_fusion'),
]
ARCHS = tuple(_MMAGIC_TO_BASICSR)


def _rename(state: Mapping, rules: List[Rule], source: str, arch: str,
            keep: Sequence[str]) -> dict:
    if arch not in ARCHS:
        raise ValueError(f'arch: expected one of {ARCHS}, got {arch!r}')
    out, unknown = {}, []
    for name, value in state.items():
        if name.startswith(tuple(keep)):
            out[name] = value
            continue
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


def mmagic_to_basicsr(state: Mapping, arch: str = 'basicvsr', keep: Sequence[str] = ()) -> dict:
    """An MMagic generator state dict (no ``generator.`` prefix) under BasicSR's names.

    Names starting with one of ``keep`` (the plugin's own layers, e.g. SSL's
    ``ssl.`` scales, which both frameworks name alike) pass unchanged; any
    other name of no known layer is an error.
    """
    return _rename(state, _MMAGIC_TO_BASICSR[arch] if arch in ARCHS else [], 'MMagic', arch,
                   keep)


def basicsr_to_mmagic(state: Mapping, arch: str = 'basicvsr', keep: Sequence[str] = ()) -> dict:
    """A BasicSR network state dict (``params``) under MMagic's generator names;
    ``keep`` as in :func:`mmagic_to_basicsr`."""
    return _rename(state, _BASICSR_TO_MMAGIC[arch] if arch in ARCHS else [], 'BasicSR', arch,
                   keep)
