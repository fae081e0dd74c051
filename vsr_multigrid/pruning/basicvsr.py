"""BasicVSR's and IconVSR's prunable channel groups, stage-1 forward and slicing.

Layers are addressed by *role*, not by a framework's names, so MMagic's
``BasicVSRNet``/``IconVSRNet`` and BasicSR's ``BasicVSR``/``IconVSR`` share
this code; each adapter maps roles to its own modules once (see :func:`roles`):

- ``<branch>.input``: the branch's input conv (``3 + hidden -> W``; IconVSR's
  forward branch also reads the backward feature: ``3 + W + W -> W``), then
  LeakyReLU;
- ``<branch>.block<k>.conv1`` / ``.conv2``: residual block ``k`` (no BN);
- ``<branch>.refill`` (IconVSR only): the keyframe fusion ``[hidden, EDVR
  feature] -> hidden`` (3x3, no activation) that refreshes the hidden state;
- ``fusion`` (BasicVSR only; 1x1, ``2W -> W``), ``upsample1`` / ``upsample2``
  (convs before a x2 pixel shuffle; IconVSR upsamples the forward feature),
  ``conv_hr``, ``conv_last``.

Channel groups (SSL's): ``<branch>_stream`` (the branch's residual stream:
its input conv, every block's output, the hidden state and IconVSR's
refill output, its half of the fusion input), ``<branch>_block<k>`` (inner channels of block ``k``),
``upsample1`` / ``upsample2`` (post-shuffle channels, i.e. groups of 4 conv
filters) and ``conv_hr``. SPyNet, IconVSR's EDVR, ``fusion``'s output and
``conv_last`` are not pruned.

Every scale multiplies a channel *after* its activation, so slicing folds it
into the input columns of the layers that read the channel (exact for any
sign). Two stream layouts:

- ``'aligned'``: the stream scale multiplies what is written into the stream
  (input conv and every block's output); a channel at zero is zero in the
  whole branch and the hidden state, so the branch becomes narrower and its
  blocks run dense.
- ``'rsc'`` (SSL's Residual Sparsity Connection): the stream scale
  multiplies what blocks read and write; the identity path and the hidden
  state keep full width, blocks gather the kept channels and add their
  output into those indices.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..nets.recurrence import bilinear_base

__all__ = ['BRANCHES', 'ARCHS', 'STREAM_MODES', 'roles', 'arch_of', 'channel_groups',
           'check_convs',
           'sparse_branch_step', 'sparse_reconstruct', 'branch_input', 'pruned_branch_step',
           'plain_reconstruct', 'reconstruct_residual', 'channel_importance', 'slice_weights',
           'pruned_shapes',
           'group_macs', 'count_macs', 'count_params', 'load_weights', 'zero_removed']

BRANCHES = ('backward', 'forward')
ARCHS = ('basicvsr', 'iconvsr')
STREAM_MODES = ('aligned', 'rsc')
SHUFFLE = 2  # both upsampling convs are followed by pixel_shuffle(2)


def roles(num_blocks: int, arch: str = 'basicvsr') -> List[str]:
    """All conv roles of a BasicVSR or IconVSR with ``num_blocks`` blocks per branch."""
    if arch not in ARCHS:
        raise ValueError(f'arch: expected one of {ARCHS}, got {arch!r}')
    out = []
    for branch in BRANCHES:
        if arch == 'iconvsr':
            out.append(f'{branch}.refill')
        out.append(f'{branch}.input')
        for k in range(num_blocks):
            out += [f'{branch}.block{k}.conv1', f'{branch}.block{k}.conv2']
    tail = ['fusion'] if arch == 'basicvsr' else []
    return out + tail + ['upsample1', 'upsample2', 'conv_hr', 'conv_last']


def arch_of(convs: Mapping[str, nn.Module]) -> str:
    """``'iconvsr'`` if the roles include the keyframe refill, else ``'basicvsr'``."""
    return 'iconvsr' if 'backward.refill' in convs else 'basicvsr'


def _num_blocks(convs: Mapping[str, nn.Module]) -> int:
    return sum(1 for role in convs if role.startswith('backward.block')
               and role.endswith('.conv1'))


def check_convs(convs: Mapping[str, nn.Module]) -> int:
    """Check that ``convs`` holds every role as an ``nn.Conv2d``; return num_blocks."""
    num_blocks = _num_blocks(convs)
    expected = roles(num_blocks, arch_of(convs))
    missing = [r for r in expected if r not in convs]
    extra = [r for r in convs if r not in expected]
    if missing or extra:
        raise ValueError(f'{arch_of(convs)} conv roles: missing {missing}, unexpected {extra}')
    for role in expected:
        if not isinstance(convs[role], nn.Conv2d):
            raise TypeError(f'role {role!r}: expected nn.Conv2d, got '
                            f'{type(convs[role]).__name__}')
    return num_blocks


def channel_groups(convs: Mapping[str, nn.Conv2d]) -> Dict[str, int]:
    """Group name -> channel count, read from the convs' shapes."""
    num_blocks = check_convs(convs)
    groups = {}
    for branch in BRANCHES:
        groups[f'{branch}_stream'] = convs[f'{branch}.input'].out_channels
        for k in range(num_blocks):
            groups[f'{branch}_block{k}'] = convs[f'{branch}.block{k}.conv1'].out_channels
    groups['upsample1'] = convs['upsample1'].out_channels // SHUFFLE ** 2
    groups['upsample2'] = convs['upsample2'].out_channels // SHUFFLE ** 2
    groups['conv_hr'] = convs['conv_hr'].out_channels
    return groups


def _channel(scale: torch.Tensor) -> torch.Tensor:
    return scale.view(1, -1, 1, 1)


# -- stage 1: the dense model with scales ------------------------------------
def sparse_branch_step(convs, scales, branch: str, num_blocks: int, mode: str,
                       lr: torch.Tensor, hidden: torch.Tensor, extra: Sequence = (),
                       refill: Optional[torch.Tensor] = None) -> torch.Tensor:
    """One frame of a propagation branch with the stream and block scales.

    ``extra``: features the input conv reads between the LR frame and the
    hidden state (IconVSR's forward branch: the backward feature);
    ``refill``: IconVSR's EDVR feature at a keyframe. With every scale 1 this
    is exactly the stock branch.
    """
    stream = _channel(scales[f'{branch}_stream'])
    if refill is not None:
        hidden = convs[f'{branch}.refill'](torch.cat([hidden, refill], dim=1))
        if mode == 'aligned':  # the refreshed hidden state is the stream, like the hidden
            hidden = hidden * stream
    feat = F.leaky_relu(convs[f'{branch}.input'](torch.cat([lr, *extra, hidden], dim=1)), 0.1)
    if mode == 'aligned':
        feat = feat * stream
    for k in range(num_blocks):
        read = feat * stream if mode == 'rsc' else feat
        inner = F.relu(convs[f'{branch}.block{k}.conv1'](read)) \
            * _channel(scales[f'{branch}_block{k}'])
        feat = feat + convs[f'{branch}.block{k}.conv2'](inner) * stream
    return feat


def _upsample(conv: nn.Conv2d, feat: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(F.pixel_shuffle(conv(feat), SHUFFLE), 0.1)


def _fuse(convs, backward_feat, forward_feat) -> torch.Tensor:
    """BasicVSR fuses both branches (1x1 conv); IconVSR upsamples the forward one."""
    if 'fusion' not in convs:
        return forward_feat
    return F.leaky_relu(convs['fusion'](torch.cat([backward_feat, forward_feat], dim=1)), 0.1)


def sparse_reconstruct(convs, scales, lr, backward_feat, forward_feat,
                       scale: int = 4) -> torch.Tensor:
    """Fusion and upsampling of one frame with the upsampling and conv_hr scales."""
    out = _fuse(convs, backward_feat, forward_feat)
    out = _upsample(convs['upsample1'], out) * _channel(scales['upsample1'])
    out = _upsample(convs['upsample2'], out) * _channel(scales['upsample2'])
    out = F.leaky_relu(convs['conv_hr'](out), 0.1) * _channel(scales['conv_hr'])
    return convs['conv_last'](out) + bilinear_base(lr, scale)


# -- stage 2: the physically smaller model -----------------------------------
def branch_input(convs, branch: str, lr: torch.Tensor, hidden: torch.Tensor,
                 extra: Sequence = (), refill: Optional[torch.Tensor] = None) -> torch.Tensor:
    """A branch's input conv (after IconVSR's keyframe refill), any widths:
    what its residual blocks start from."""
    if refill is not None:
        hidden = convs[f'{branch}.refill'](torch.cat([hidden, refill], dim=1))
    return F.leaky_relu(convs[f'{branch}.input'](torch.cat([lr, *extra, hidden], dim=1)), 0.1)


def pruned_branch_step(convs, branch: str, num_blocks: int,
                       stream_index: Optional[torch.Tensor], lr: torch.Tensor,
                       hidden: torch.Tensor, extra: Sequence = (),
                       refill: Optional[torch.Tensor] = None) -> torch.Tensor:
    """One frame of a sliced branch (``extra``, ``refill``: as :func:`sparse_branch_step`).

    ``stream_index`` is None for the aligned layout (the branch is narrower,
    blocks dense) and the kept stream channels for RSC (full-width identity,
    blocks read and write those channels only).
    """
    feat = branch_input(convs, branch, lr, hidden, extra, refill)
    for k in range(num_blocks):
        conv1, conv2 = convs[f'{branch}.block{k}.conv1'], convs[f'{branch}.block{k}.conv2']
        if stream_index is None:
            feat = feat + conv2(F.relu(conv1(feat)))
        else:
            out = conv2(F.relu(conv1(feat.index_select(1, stream_index))))
            feat = feat.index_add(1, stream_index, out)
    return feat


def reconstruct_residual(convs, backward_feat, forward_feat) -> torch.Tensor:
    """The stock fusion and upsampling of one frame (any widths), without the
    bilinear skip path: what the convs add to it."""
    out = _fuse(convs, backward_feat, forward_feat)
    out = _upsample(convs['upsample1'], out)
    out = _upsample(convs['upsample2'], out)
    out = F.leaky_relu(convs['conv_hr'](out), 0.1)
    return convs['conv_last'](out)


def plain_reconstruct(convs, lr, backward_feat, forward_feat, scale: int = 4) -> torch.Tensor:
    """The stock fusion and upsampling of one frame (any widths)."""
    return reconstruct_residual(convs, backward_feat, forward_feat) + bilinear_base(lr, scale)


# -- which channels matter ---------------------------------------------------
def _row_norms(conv: nn.Conv2d, group: int = 1, order: int = 2) -> torch.Tensor:
    """Per output channel: sum of |w|**order over its filter(s)."""
    rows = conv.weight.detach().flatten(1).abs().pow(order).sum(1)
    if group > 1:
        rows = rows.view(-1, group).sum(1)
    return rows


@torch.no_grad()
def channel_importance(convs, scales, order: int = 2) -> Dict[str, torch.Tensor]:
    """Per channel ``|scale| * ||filters writing it||`` relative to its group's mean.

    At the start (scales 1) this ranks by filter norm, as SSL's
    weight-normalised scales do; normalising by the group mean lets one
    global ranking compare layers of different fan-in. ``order=1`` with unit
    scales is L1-norm filter pruning.
    """
    num_blocks = check_convs(convs)
    norms = {}
    for branch in BRANCHES:
        stream = _row_norms(convs[f'{branch}.input'], order=order)
        if f'{branch}.refill' in convs:
            stream = stream + _row_norms(convs[f'{branch}.refill'], order=order)
        for k in range(num_blocks):
            stream = stream + _row_norms(convs[f'{branch}.block{k}.conv2'], order=order)
            norms[f'{branch}_block{k}'] = _row_norms(convs[f'{branch}.block{k}.conv1'],
                                                     order=order)
        norms[f'{branch}_stream'] = stream
    norms['upsample1'] = _row_norms(convs['upsample1'], SHUFFLE ** 2, order)
    norms['upsample2'] = _row_norms(convs['upsample2'], SHUFFLE ** 2, order)
    norms['conv_hr'] = _row_norms(convs['conv_hr'], order=order)
    out = {}
    for name, norm in norms.items():
        norm = norm.pow(1.0 / order)
        out[name] = scales[name].detach().abs().to(norm) * norm / norm.mean().clamp_min(1e-12)
    return out


# -- slicing -----------------------------------------------------------------
def _rows(weight, bias, index, factor=None):
    weight, bias = weight.index_select(0, index), None if bias is None else \
        bias.index_select(0, index)
    if factor is not None:
        weight = weight * factor.view(-1, 1, 1, 1)
        bias = None if bias is None else bias * factor
    return weight, bias


def _cols(weight, index, factor):
    """Keep input columns ``index``, each times its channel's scale."""
    return weight.index_select(1, index) * factor.index_select(0, index).view(1, -1, 1, 1)


def _shuffle_rows(index: torch.Tensor) -> torch.Tensor:
    """Conv filters of post-shuffle channels ``index`` (4 consecutive each)."""
    group = SHUFFLE ** 2
    return (index.view(-1, 1) * group + torch.arange(group, device=index.device)).flatten()


@torch.no_grad()
def slice_weights(convs, scales, kept: Mapping[str, torch.Tensor],
                  mode: str) -> Dict[str, Tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """Fold the scales into the weights and keep only the ``kept`` channels.

    Args:
        convs: Role -> conv of the stage-1 model.
        scales: Group -> scale vector of the stage-1 model.
        kept: Group -> sorted indices of the channels that stay.
        mode: ``'aligned'`` or ``'rsc'``, as the stage-1 model was trained.

    Returns:
        Role -> ``(weight, bias)`` of the pruned model. Its output equals the
        stage-1 model's with the scales of removed channels set to zero.
    """
    if mode not in STREAM_MODES:
        raise ValueError(f"stream mode: expected one of {STREAM_MODES}, got {mode!r}")
    num_blocks = check_convs(convs)
    groups = channel_groups(convs)
    for name, size in groups.items():
        if name not in kept:
            raise ValueError(f'kept channels: group {name!r} missing')
        index = kept[name]
        if index.numel() == 0 or index.numel() != index.unique().numel() \
                or int(index.min()) < 0 or int(index.max()) >= size:
            raise ValueError(f'kept channels of group {name!r}: expected 1..{size} distinct '
                             f'indices in [0, {size}), got {index.tolist()}')
    kept = {name: kept[name].sort().values.to(convs['conv_last'].weight.device) for name in groups}
    s = {name: scales[name].detach().to(convs['conv_last'].weight) for name in groups}
    arch = arch_of(convs)
    out, branch_reads = {}, {}
    fusion_cols = []
    for b, branch in enumerate(BRANCHES):
        stream, index = s[f'{branch}_stream'], kept[f'{branch}_stream']
        width = convs[f'{branch}.input'].out_channels
        # What the branch's stream channels look like to a reader: the kept
        # ones, each times its scale (aligned), or all of them unscaled (RSC:
        # the identity and hidden state keep full width).
        reads = (width, index, stream) if mode == 'aligned' else (width, None, None)
        if arch == 'iconvsr':
            refill = convs[f'{branch}.refill']
            weight, bias = refill.weight, refill.bias
            if mode == 'aligned':
                weight, bias = _rows(weight, bias, index)
            out[f'{branch}.refill'] = (_segment_cols(weight, [
                reads, (refill.in_channels - width, None, None)]), _clone(bias))
        conv_in = convs[f'{branch}.input']
        weight, bias = conv_in.weight, conv_in.bias
        if mode == 'aligned':
            weight, bias = _rows(weight, bias, index)
        segments = [(conv_in.in_channels - width, None, None), reads]  # LR, hidden
        if arch == 'iconvsr' and branch == 'forward':  # LR, backward feature, hidden
            backward_width = convs['backward.input'].out_channels
            segments = [(conv_in.in_channels - width - backward_width, None, None),
                        branch_reads['backward'], reads]
        out[f'{branch}.input'] = (_segment_cols(weight, segments), _clone(bias))
        for k in range(num_blocks):
            conv1, conv2 = convs[f'{branch}.block{k}.conv1'], convs[f'{branch}.block{k}.conv2']
            inner, inner_index = s[f'{branch}_block{k}'], kept[f'{branch}_block{k}']
            weight, bias = _rows(conv1.weight, conv1.bias, inner_index)
            out[f'{branch}.block{k}.conv1'] = (_cols(weight, index, stream), bias)
            weight = _cols(conv2.weight, inner_index, inner)
            if mode == 'aligned':
                out[f'{branch}.block{k}.conv2'] = _rows(weight, conv2.bias, index)
            else:  # RSC: the write is scaled too, and lands in the kept indices
                out[f'{branch}.block{k}.conv2'] = _rows(weight, conv2.bias, index,
                                                        stream.index_select(0, index))
        branch_reads[branch] = reads
        fusion_cols.append(reads)
    if arch == 'basicvsr':
        out['fusion'] = (_segment_cols(convs['fusion'].weight, fusion_cols),
                         _clone(convs['fusion'].bias))
    up1, up2 = kept['upsample1'], kept['upsample2']
    weight, bias = _rows(convs['upsample1'].weight, convs['upsample1'].bias,
                         _shuffle_rows(up1))
    if arch == 'iconvsr':  # upsample1 reads the forward branch directly
        weight = _segment_cols(weight, [branch_reads['forward']])
    out['upsample1'] = (weight, bias)
    weight, bias = _rows(convs['upsample2'].weight, convs['upsample2'].bias, _shuffle_rows(up2))
    out['upsample2'] = (_cols(weight, up1, s['upsample1']), bias)
    weight, bias = _rows(convs['conv_hr'].weight, convs['conv_hr'].bias, kept['conv_hr'])
    out['conv_hr'] = (_cols(weight, up2, s['upsample2']), bias)
    out['conv_last'] = (_cols(convs['conv_last'].weight, kept['conv_hr'], s['conv_hr']),
                        _clone(convs['conv_last'].bias))
    return out


def _clone(bias):
    return None if bias is None else bias.clone()


def _segment_cols(weight, segments):
    """Input columns in consecutive segments ``(size, index, scale)``: a segment
    keeps all its columns (``index`` None) or those in ``index``, each times
    its channel's ``scale``."""
    parts, start = [], 0
    for size, index, scale in segments:
        part = weight[:, start:start + size]
        parts.append(part if index is None else _cols(part, index, scale))
        start += size
    if start != weight.shape[1]:
        raise ValueError(f'input column segments cover {start} of {weight.shape[1]} columns')
    return torch.cat(parts, dim=1)


# -- cost --------------------------------------------------------------------
#: Output pixels of a role's conv per LR pixel (after one or two x2 shuffles).
_PIXELS_PER_LR_PIXEL = {'upsample2': 4, 'conv_hr': 16, 'conv_last': 16}


def _kernel_area(role: str) -> int:
    return 1 if role == 'fusion' else 9  # fusion is 1x1, every other conv 3x3


def group_macs(counts: Mapping[str, int], num_blocks: int, mid_channels: int, mode: str,
               arch: str = 'basicvsr', refill_share: float = 0.2) -> Dict[str, int]:
    """Multiply-adds per LR pixel of one frame, per layer group (SPyNet and EDVR excluded).

    ``counts`` gives each group's kept channels (the full model: its sizes).
    Upsampling layers run at 4 and 16 times the LR pixels; IconVSR's refill
    convs at the keyframes only, ``refill_share`` of the frames (1 / keyframe
    stride, ignoring the last frame that is always one).
    """
    macs = {}
    for role, (c_in, c_out) in pruned_shapes(counts, num_blocks, mid_channels, mode,
                                             arch).items():
        group = f"{role.split('.')[0]} branch" if '.' in role else role
        share = refill_share if role.endswith('.refill') else 1
        macs[group] = macs.get(group, 0) + round(
            share * _kernel_area(role) * c_in * c_out * _PIXELS_PER_LR_PIXEL.get(role, 1))
    return macs


def count_macs(counts, num_blocks, mid_channels, mode, arch='basicvsr',
               refill_share=0.2) -> int:
    return sum(group_macs(counts, num_blocks, mid_channels, mode, arch, refill_share).values())


def pruned_shapes(counts: Mapping[str, int], num_blocks: int, mid_channels: int, mode: str,
                  arch: str = 'basicvsr', in_channels: int = 3,
                  out_channels: int = 3) -> Dict[str, Tuple[int, int]]:
    """Role -> ``(in_channels, out_channels)`` of every conv of a pruned model.

    IconVSR's refill reads ``mid_channels`` EDVR channels (EDVR is not pruned).
    """
    if arch not in ARCHS:
        raise ValueError(f'arch: expected one of {ARCHS}, got {arch!r}')
    shapes = {}
    widths = {}
    for branch in BRANCHES:
        kept = counts[f'{branch}_stream']
        width = kept if mode == 'aligned' else mid_channels
        widths[branch] = width
        reads = in_channels + width
        if arch == 'iconvsr':
            shapes[f'{branch}.refill'] = (width + mid_channels, width)
            if branch == 'forward':
                reads += widths['backward']
        shapes[f'{branch}.input'] = (reads, width)
        for k in range(num_blocks):
            inner = counts[f'{branch}_block{k}']
            shapes[f'{branch}.block{k}.conv1'] = (kept, inner)
            shapes[f'{branch}.block{k}.conv2'] = (inner, kept)
    if arch == 'basicvsr':
        shapes['fusion'] = (widths['backward'] + widths['forward'], mid_channels)
        shapes['upsample1'] = (mid_channels, counts['upsample1'] * SHUFFLE ** 2)
    else:
        shapes['upsample1'] = (widths['forward'], counts['upsample1'] * SHUFFLE ** 2)
    shapes['upsample2'] = (counts['upsample1'], counts['upsample2'] * SHUFFLE ** 2)
    shapes['conv_hr'] = (counts['upsample2'], counts['conv_hr'])
    shapes['conv_last'] = (counts['conv_hr'], out_channels)
    return shapes


def count_params(counts, num_blocks, mid_channels, mode, arch='basicvsr') -> int:
    """Parameters of the convs of a pruned model (SPyNet and EDVR excluded)."""
    total = 0
    for role, (c_in, c_out) in pruned_shapes(counts, num_blocks, mid_channels, mode,
                                             arch).items():
        total += c_in * c_out * _kernel_area(role) + c_out
    return total


@torch.no_grad()
def load_weights(convs: Mapping[str, nn.Conv2d], weights) -> None:
    """Copy :func:`slice_weights`' output into a pruned model's convs (by role)."""
    for role, conv in convs.items():
        weight, bias = weights[role]
        if tuple(conv.weight.shape) != tuple(weight.shape):
            raise ValueError(f'role {role!r}: sliced weight {tuple(weight.shape)} does not fit '
                             f'the pruned conv {tuple(conv.weight.shape)}')
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)


@torch.no_grad()
def zero_removed(scales, kept: Mapping[str, torch.Tensor]) -> None:
    """Set the scales of every channel not in ``kept`` to zero, in place (the
    masked stage-1 model that a sliced model must reproduce)."""
    for name, index in kept.items():
        drop = torch.ones_like(scales[name], dtype=torch.bool)
        drop[index.to(drop.device)] = False
        scales[name][drop] = 0
