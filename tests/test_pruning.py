"""SSL pruning core and its MMagic generators: invariants on tiny models."""
import copy
import json

import pytest
import torch
from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet
from mmagic.models.editors.iconvsr.iconvsr_net import IconVSRNet

from vsr_multigrid.engine.pruning import (PrunedBasicVSRNet, PrunedIconVSRNet, SSLBasicVSRNet,
                                          SSLIconVSRNet)
from vsr_multigrid.pruning import basicvsr as core
from vsr_multigrid.pruning.scales import SparsityScales
from vsr_multigrid.pruning.spec import ChannelSpec
from vsr_multigrid.pruning.temporal import frame_weights, temporal_distillation_loss

MID, BLOCKS = 8, 2
# Per architecture: stock, stage-1 and pruned types, constructor keys, a clip
# length. IconVSR's EDVR is fixed at 64 channels and its refill needs 5
# frames; 6 frames with stride 3 give keyframes 0, 3 and 5; an LR size of 18
# exercises its spatial padding to multiples of 4.
ARCHS = {
    'basicvsr': (BasicVSRNet, SSLBasicVSRNet, PrunedBasicVSRNet,
                 dict(mid_channels=MID, num_blocks=BLOCKS), 4, 16),
    'iconvsr': (IconVSRNet, SSLIconVSRNet, PrunedIconVSRNet,
                dict(mid_channels=64, num_blocks=1, keyframe_stride=3), 6, 18),
}


def _clip(seed=0, t=3, size=16):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, t, 3, size, size, generator=g)


def _spec(arch, mode, kept):
    _, _, _, keys, _, _ = ARCHS[arch]
    extra = dict(keyframe_stride=keys['keyframe_stride']) if arch == 'iconvsr' else {}
    return ChannelSpec(ARCHS[arch][0].__name__, keys['mid_channels'], keys['num_blocks'], mode,
                       {k: v.tolist() for k, v in kept.items()}, **extra)


def _stage1(mode, seed=0, arch='basicvsr'):
    torch.manual_seed(seed)
    _, stage1, _, keys, _, _ = ARCHS[arch]
    net = stage1(**keys, stream_mode=mode).eval()
    # Non-trivial weights and scales (negative ones included: folding must
    # not rely on LeakyReLU's positive homogeneity).
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for s in net.ssl.scales.values():
            s.copy_(torch.randn_like(s))
    return net


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('mode', core.STREAM_MODES)
def test_stage1_with_unit_scales_is_the_stock_generator(mode, arch):
    stock_type, stage1, _, keys, t, size = ARCHS[arch]
    torch.manual_seed(0)
    stock = stock_type(**keys).eval()
    ssl = stage1(**keys, stream_mode=mode).eval()
    missing, unexpected = ssl.load_state_dict(stock.state_dict(), strict=False)
    assert not unexpected and all(k.startswith('ssl.') for k in missing)
    clip = _clip(t=t, size=size)
    with torch.no_grad():
        assert torch.equal(ssl(clip), stock(clip))


def _kept(net, seed=1):
    g = torch.Generator().manual_seed(seed)
    kept = {}
    for name, size in core.channel_groups(net.convs()).items():
        count = int(torch.randint(1, size + 1, (1,), generator=g))
        kept[name] = torch.randperm(size, generator=g)[:count].sort().values
    return kept


@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('mode', core.STREAM_MODES)
def test_sliced_model_reproduces_the_masked_stage1_model(mode, arch, tmp_path):
    stock_type, _, pruned_type, keys, t, size = ARCHS[arch]
    net = _stage1(mode, arch=arch)
    kept = _kept(net)
    masked = copy.deepcopy(net)
    core.zero_removed(masked.ssl.scales, kept)
    weights = core.slice_weights(net.convs(), net.ssl.scales, kept, mode)
    _spec(arch, mode, kept).save(tmp_path / 'spec.json')
    pruned = pruned_type(str(tmp_path / 'spec.json')).eval()
    pruned.spynet.load_state_dict(net.spynet.state_dict())
    if arch == 'iconvsr':
        pruned.edvr.load_state_dict(net.edvr.state_dict())
    core.load_weights(pruned.convs(), weights)
    clip = _clip(t=t, size=size)
    with torch.no_grad():
        expected, got = masked(clip), pruned(clip)
    assert got.shape == expected.shape == (1, t, 3, 4 * size, 4 * size)
    # float32 rounding of sums over 64+ channels: relative to the output's range
    assert (got - expected).abs().max() < 1e-5 * expected.abs().max()
    # The masked model differs from the unmasked one: the test can see a slip.
    with torch.no_grad():
        assert (net(clip) - expected).abs().max() > 1e-3
    # Fewer parameters than the dense model whenever a channel went.
    dense = sum(p.numel() for p in stock_type(**keys).parameters())
    assert sum(p.numel() for p in pruned.parameters()) < dense


@pytest.mark.parametrize('arch', ARCHS)
def test_macs_count_matches_the_convs_that_run(arch):
    """group_macs of a pruned model equals the convs' real work (IconVSR's
    refill convs counted at its keyframes)."""
    _, _, pruned_type, keys, t, _ = ARCHS[arch]
    size = 16
    for mode in core.STREAM_MODES:
        net = _stage1(mode, arch=arch)
        kept = _kept(net, seed=3)
        spec = _spec(arch, mode, kept)
        pruned = pruned_type(spec.to_dict()).eval()
        counted = []
        convs = pruned.convs()

        def hook(module, inputs, output):
            counted.append(output.shape[2] * output.shape[3] * module.in_channels
                           * module.out_channels * module.kernel_size[0]
                           * module.kernel_size[1])
        handles = [c.register_forward_hook(hook) for c in convs.values()]
        with torch.no_grad():
            pruned(_clip(t=t, size=size))
        for h in handles:
            h.remove()
        per_pixel = sum(counted) / (t * size * size)
        # Keyframes per frame of this clip: 4 of 4 frames are not keyframes
        # for BasicVSR (no refill); IconVSR's stride 3 over 6 frames gives 3.
        share = 3 / t if arch == 'iconvsr' else 0
        expected = core.count_macs(spec.counts(), keys['num_blocks'], keys['mid_channels'],
                                   mode, arch, refill_share=share)
        assert per_pixel == pytest.approx(expected, abs=1)


def test_regulariser_picks_then_grows_to_the_limit():
    scales = SparsityScales({'a': 4, 'b': 2}, dict(ratio=0.5, interval=2, delta=0.3,
                                                   limit=0.5, select_iter=1))
    importance = {'a': torch.tensor([4., 3., 0.1, 0.2]), 'b': torch.tensor([0.05, 0.01])}
    calls = []

    def fn():
        calls.append(1)
        return importance
    scales.step(fn)                       # iteration 0: before select_iter
    assert not bool(scales.has_picked) and float(scales.loss().detach()) == 0
    scales.step(fn)                       # iteration 1: pick (3 of 6, b keeps 1)
    assert calls == [1]
    assert scales.picked('a').tolist() == [False, False, True, True]
    assert scales.picked('b').tolist() == [False, True]
    penalties = []
    for _ in range(6):                    # iterations 2..7: grow at 2, 4, 6
        scales.step(fn)
        penalties.append(float(scales.penalty('a')[2]))
    assert penalties == pytest.approx([0.3, 0.3, 0.5, 0.5, 0.5, 0.5])
    assert float(scales.penalty('a')[0]) == 0
    assert calls == [1]                   # picked once
    with torch.no_grad():
        scales.scales['a'].fill_(2.0)
    # 0.5 * (0.5 * 4 + 0.5 * 4) for a's two picked, 0.5 * 0.5 * 1 for b's
    assert float(scales.loss().detach()) == pytest.approx(2.0 + 0.25)


def test_regulariser_state_survives_a_checkpoint():
    make = lambda: SparsityScales({'a': 6}, dict(ratio=0.5, interval=1, delta=0.1))  # noqa
    first = make()
    imp = lambda: {'a': torch.arange(6.)}  # noqa
    for _ in range(3):
        first.step(imp)
    second = make()
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    for _ in range(2):
        first.step(imp)
        second.step(lambda: pytest.fail('a resumed run must not pick again'))
    assert torch.equal(first.penalty('a'), second.penalty('a'))
    assert torch.equal(first.picked('a'), second.picked('a'))
    assert int(second.iteration) == 5


def test_regulariser_refuses_bad_keys():
    with pytest.raises(ValueError, match="'raito' unknown"):
        SparsityScales({'a': 2}, dict(raito=0.5))
    with pytest.raises(ValueError, match="'ratio'"):
        SparsityScales({'a': 2}, dict(ratio=1.5))


def test_training_forward_steps_the_regulariser_and_returns_a_loss():
    net = SSLBasicVSRNet(mid_channels=MID, num_blocks=BLOCKS,
                         sparsity=dict(ratio=0.5, interval=1, delta=0.01)).train()
    out = net(_clip(t=2))
    assert bool(net.ssl.has_picked) and int(net.ssl.iteration) == 1
    loss = out.mean() + net.sparsity_loss()
    loss.backward()
    picked = net.ssl.picked('conv_hr')
    assert picked.any() and net.ssl.scales['conv_hr'].grad is not None
    net.eval()
    with torch.no_grad():
        net(_clip(t=2))
    assert int(net.ssl.iteration) == 1    # validation does not advance it


def test_spec_errors_name_the_group(tmp_path):
    sizes = ChannelSpec('BasicVSRNet', MID, 1, 'aligned',
                        {g: [0] for g in _groups(1)}).dense_groups()
    kept = {k: list(range(v)) for k, v in sizes.items()}
    bad = dict(kept, conv_hr=[0, 64])
    with pytest.raises(ValueError, match="kept.conv_hr"):
        ChannelSpec('BasicVSRNet', MID, 1, 'aligned', bad)
    missing = {k: v for k, v in kept.items() if k != 'upsample1'}
    with pytest.raises(ValueError, match="missing groups \\['upsample1'\\]"):
        ChannelSpec('BasicVSRNet', MID, 1, 'aligned', missing)
    path = tmp_path / 'spec.json'
    ChannelSpec('BasicVSRNet', MID, 1, 'rsc', kept).save(path)
    assert ChannelSpec.load(str(path)).kept == kept
    with pytest.raises(FileNotFoundError, match='tools/prune.py'):
        ChannelSpec.load(str(tmp_path / 'none.json'))
    data = json.loads(path.read_text())
    data['format'] = 'other'
    with pytest.raises(ValueError, match='format'):
        ChannelSpec.from_dict(data)


def _groups(num_blocks):
    names = []
    for b in core.BRANCHES:
        names.append(f'{b}_stream')
        names += [f'{b}_block{k}' for k in range(num_blocks)]
    return names + ['upsample1', 'upsample2', 'conv_hr']


def test_pruned_generator_refuses_a_dense_checkpoint_naming_the_layer():
    kept = {g: [0, 1] for g in _groups(BLOCKS)}
    pruned = PrunedBasicVSRNet(dict(ChannelSpec('BasicVSRNet', MID, BLOCKS, 'aligned',
                                                kept).to_dict()))
    dense = BasicVSRNet(MID, BLOCKS).state_dict()
    with pytest.raises(ValueError, match=r'backward_resblocks\.main\.0\.weight'):
        pruned.load_state_dict(dense, strict=False)
    from mmengine.runner.checkpoint import load_state_dict
    with pytest.raises(ValueError, match='channel spec'):
        load_state_dict(pruned, dense, strict=False)


def test_temporal_distillation_weights_late_frames_most():
    weights = frame_weights(5, 3.0)
    assert weights.mean().item() == pytest.approx(1.0)
    assert torch.all(weights[1:] > weights[:-1]) and weights[-1] / weights[0] == pytest.approx(3)
    teacher = torch.zeros(2, 5, 3, 4, 4)
    early, late = teacher.clone(), teacher.clone()
    early[:, 0] += 1
    late[:, -1] += 1
    assert float(temporal_distillation_loss(teacher, teacher)) == 0
    assert float(temporal_distillation_loss(late, teacher, 3.0)) == pytest.approx(
        3 * float(temporal_distillation_loss(early, teacher, 3.0)))
    with pytest.raises(ValueError, match='shape'):
        temporal_distillation_loss(teacher, teacher[:, :4])


def test_rounded_choice_stays_within_the_target():
    from vsr_multigrid.pruning.select import choose_kept
    g = torch.Generator().manual_seed(0)
    importance = {'a': torch.rand(64, generator=g), 'b': torch.rand(48, generator=g),
                  'c': torch.rand(12, generator=g)}

    def cost(counts):  # quadratic, like a conv between two groups
        return counts['a'] * counts['b'] + 9 * counts['b'] * counts['c'] + counts['a']
    dense = cost({n: v.numel() for n, v in importance.items()})
    for share in (0.5, 0.25, 0.1):
        kept = choose_kept(importance, cost, share * dense, round_to=8)
        counts = {n: v.numel() for n, v in kept.items()}
        assert cost(counts) <= share * dense
        assert all(c % 8 == 0 or c == importance[n].numel() for n, c in counts.items())
        # Nothing left on the table: one more multiple anywhere breaks the target.
        for n, c in counts.items():
            if c < importance[n].numel():
                assert cost(dict(counts, **{n: min(c + 8, importance[n].numel())})) \
                    > share * dense


def test_pruned_generator_starts_from_the_stock_initialisation():
    """Trained from scratch (the narrow baseline), a pruned model must start as
    the stock one does: MMagic scales its residual blocks' kaiming init by 0.1."""
    torch.manual_seed(0)
    stock = BasicVSRNet(mid_channels=32, num_blocks=2)
    kept = {g: list(range(n)) for g, n in core.channel_groups(
        core_convs(stock)).items()}
    pruned = PrunedBasicVSRNet(ChannelSpec('BasicVSRNet', 32, 2, 'aligned', kept).to_dict())
    for role in ('backward.block0.conv1', 'forward.block1.conv2', 'upsample1'):
        dense_std = float(core_convs(stock)[role].weight.std())
        pruned_std = float(pruned.convs()[role].weight.std())
        assert pruned_std == pytest.approx(dense_std, rel=0.2), role


def core_convs(net):
    from vsr_multigrid.engine.pruning import generator_convs
    return generator_convs(net, 2, 'basicvsr')
