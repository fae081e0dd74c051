"""Skip routing core: invariants on tiny inputs (plain torch)."""
import pytest
import torch
from torch import nn

from vsr_multigrid.routing.blocks import routed_residual_blocks, unit_of
from vsr_multigrid.routing.gates import (ConfidenceEstimator, compute_loss, executed_share,
                                         gumbel_sigmoid_gates, hard_gates, indecision_loss,
                                         share_gates)
from vsr_multigrid.routing.patches import gather_patches, patch_grid, scatter_patches

C, BLOCKS = 6, 3


def _convs(seed=0):
    torch.manual_seed(seed)
    convs = {}
    for k in range(BLOCKS):
        for name in ('conv1', 'conv2'):
            convs[f'backward.block{k}.{name}'] = nn.Conv2d(C, C, 3, 1, 1)
    return convs


def _feat(n=2, h=13, w=10, seed=1):
    return torch.randn(n, C, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize('patch', [4, 5, 7])
def test_gather_then_scatter_is_the_identity_and_windows_hold_neighbours(patch):
    feat = _feat()
    gh, gw = patch_grid(13, 10, patch)
    index = torch.arange(2 * gh * gw)
    assert torch.equal(scatter_patches(feat, index, gather_patches(feat, index, patch, 0),
                                       patch), feat)
    windows = gather_patches(feat, index, patch, 2)
    assert windows.shape == (2 * gh * gw, C, patch + 4, patch + 4)
    # Patch (frame 1, row 0, col 1): its window starts 2 px left of column patch.
    i = gh * gw + 1
    expect = feat[1, :, 0:patch + 2, patch - 2:2 * patch + 2]
    got = windows[i, :, 2:2 + expect.shape[1], :expect.shape[2]]
    assert torch.equal(got, expect)
    assert torch.all(windows[i, :, :2] == 0)  # above the frame: zeros


@pytest.mark.parametrize('patch', [3, 4, 5, 8])
@pytest.mark.parametrize('units', [1, 3])
@pytest.mark.parametrize('share', [0.1, 0.9])
def test_sparse_blocks_equal_masked_blocks_on_hard_gates(patch, units, share, monkeypatch):
    """Few active patches are gathered; many run on the whole frame (their
    halos would cost more); both equal the masked computation."""
    from vsr_multigrid.routing import blocks
    gathered = []
    real_gather = blocks.gather_windows
    monkeypatch.setattr(blocks, 'gather_windows',
                        lambda *a, **k: gathered.append(1) or real_gather(*a, **k))
    convs, feat = _convs(), _feat()
    gh, gw = patch_grid(13, 10, patch)
    gates = torch.rand(2, units, gh, gw, generator=torch.Generator().manual_seed(2)) < share
    with torch.no_grad():
        masked = routed_residual_blocks(convs, 'backward', BLOCKS, feat, gates.float(),
                                        patch, 'masked')
        sparse = routed_residual_blocks(convs, 'backward', BLOCKS, feat, gates, patch,
                                        'sparse')
        dense = routed_residual_blocks(convs, 'backward', BLOCKS, feat, None, patch, 'sparse')
    assert torch.allclose(sparse, masked, atol=1e-5)
    # Gathered where the active patches' windows cost less than the frame.
    frame = 2 * 13 * 10
    gathers = [0 < int(gates[:, u].sum()) * patch ** 2 * blocks.sparse_cost(patch) < frame
               for u in range(units)]
    assert bool(gathered) == any(gathers)
    if not gates.all():
        assert not torch.allclose(sparse, dense, atol=1e-3)  # some blocks were skipped


@pytest.mark.parametrize('mode', ['masked', 'sparse'])
def test_all_open_is_dense_and_all_closed_is_identity(mode):
    convs, feat = _convs(), _feat()
    gh, gw = patch_grid(13, 10, 4)
    ones = torch.ones(2, 2, gh, gw, dtype=torch.bool)
    with torch.no_grad():
        dense = routed_residual_blocks(convs, 'backward', BLOCKS, feat, None, 4, mode)
        opened = routed_residual_blocks(convs, 'backward', BLOCKS, feat,
                                        ones if mode == 'sparse' else ones.float(), 4, mode)
        closed = routed_residual_blocks(convs, 'backward', BLOCKS, feat,
                                        ~ones if mode == 'sparse' else (~ones).float(), 4, mode)
    assert torch.equal(opened, dense)
    assert torch.equal(closed, feat)


def test_units_split_blocks_evenly():
    assert [unit_of(k, 6, 3) for k in range(6)] == [0, 0, 1, 1, 2, 2]
    assert [unit_of(k, 5, 1) for k in range(5)] == [0] * 5
    assert [unit_of(k, 4, 4) for k in range(4)] == [0, 1, 2, 3]


def test_threshold_sweep_is_monotone_and_estimator_starts_open():
    estimator = ConfidenceEstimator(C, 3, patch=5)
    feat = _feat()
    logits = estimator(feat)
    assert logits.shape == (2, 3, 3, 2)
    assert bool(hard_gates(logits).all())  # a fresh estimator runs every block
    with torch.no_grad():
        estimator.head.weight.normal_()
    logits = estimator(feat)
    fractions = [hard_gates(logits, t).float().mean().item() for t in
                 (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)]
    assert fractions == sorted(fractions, reverse=True)
    assert fractions[0] == 1.0 and fractions[-1] == 0.0
    # A trained estimator's logits can pass -100, where sigmoid is exactly 0
    # in float32: threshold 0 still runs them, 1 runs nothing.
    extreme = torch.tensor([-200.0, -20.0, 0.0, 20.0, 200.0])
    assert hard_gates(extreme, 0.0).tolist() == [True] * 5
    assert hard_gates(extreme, 1.0).tolist() == [False] * 5
    assert hard_gates(extreme, 0.5).tolist() == [False, False, False, True, True]
    with pytest.raises(ValueError, match='threshold'):
        hard_gates(extreme, 1.5)


def test_share_gates_run_each_samples_most_confident_pairs():
    logits = torch.randn(2, 3, 4, 3, generator=torch.Generator().manual_seed(2))
    logits[1] += 5  # another sample's confidences sit elsewhere: its share is the same
    for share in (0.0, 0.25, 0.5, 0.9, 1.0):
        gates = share_gates(logits, share)
        assert gates.dtype == torch.bool and gates.shape == logits.shape
        assert gates.flatten(1).sum(1).tolist() == [round(share * 36)] * 2
        for sample, chosen in zip(logits, gates):
            if chosen.any() and not chosen.all():  # every run pair beats every skipped one
                assert sample[chosen].min() > sample[~chosen].max()
    # The same pairs as the threshold that runs that many
    median = logits[0].flatten().sort().values[17:19].mean()
    assert torch.equal(share_gates(logits[:1], 0.5), hard_gates(logits[:1] - median))
    for bad in (-0.1, 1.5, True, None):
        with pytest.raises(ValueError, match='share'):
            share_gates(logits, bad)


def test_executed_share_weights_partial_patches_by_their_pixels():
    from vsr_multigrid.routing.patches import patch_areas
    areas = patch_areas(17, 14, 5)
    assert areas.tolist() == [[25, 25, 20]] * 3 + [[10, 10, 8]]
    assert areas.sum() == 17 * 14
    gates = torch.zeros(2, 3, 4, 3)
    gates[:, :, -1] = 1  # the 2-pixel bottom row runs
    assert executed_share(gates) == pytest.approx(1 / 4)
    assert executed_share(gates, areas) == pytest.approx(28 / 238)
    assert compute_loss(gates[None], 0.0, areas) == pytest.approx((28 / 238) ** 2)


def test_compute_budget_clip_can_be_met_by_closing_a_branch_frame_and_unit_cannot():
    # Stacked training gates (branch steps, n, units, gh, gw): two steps.
    branch_off = torch.zeros(2, 1, 2, 3, 3)
    branch_off[0] = 1  # one branch runs everything, the other nothing
    unit_off = torch.zeros(2, 1, 2, 3, 3)
    unit_off[:, :, 0] = 1  # in every step the first unit runs, the second not
    patches = torch.zeros(2, 1, 2, 9)
    patches[..., :5] = 1  # every unit of every step runs 5 of its 9 patches
    patches = patches.view(2, 1, 2, 3, 3)
    assert torch.allclose(executed_share(patches, dims=(1, 3, 4)), torch.full((2, 2), 5 / 9))
    for gates, losses in ((branch_off, (0, 0.25, 0.25)), (unit_off, (0, 0, 0.25)),
                          (patches, ((1 / 18) ** 2,) * 3)):
        for budget, expected in zip(('clip', 'frame', 'unit'), losses):
            assert float(compute_loss(gates, 0.5, budget=budget)) == pytest.approx(expected)
    with pytest.raises(ValueError, match='budget'):
        compute_loss(patches, 0.5, budget='branch')
    with pytest.raises(ValueError, match='stacked gates'):
        compute_loss(patches[0], 0.5)


def test_indecision_loss_is_one_at_half_confidence_and_pushes_away_from_it():
    from vsr_multigrid.routing.patches import patch_areas
    assert float(indecision_loss(torch.zeros(2, 3, 4, 4))) == pytest.approx(1.0)
    assert float(indecision_loss(torch.full((1, 1, 2, 2), 20.0))) < 1e-6
    assert float(indecision_loss(torch.full((1, 1, 2, 2), -20.0))) < 1e-6
    logits = torch.tensor([[[[0.5, -0.5], [2.0, 0.0]]]], requires_grad=True)
    indecision_loss(logits).backward()
    # Descending the gradient moves each confidence further from 0.5 (a
    # logit at exactly 0 is a stationary point).
    assert logits.grad[0, 0, 0, 0] < 0 < logits.grad[0, 0, 0, 1]
    assert logits.grad[0, 0, 1, 0] < 0 and logits.grad[0, 0, 1, 1] == 0
    # Weighted by pixels like the executed share: only the 2-pixel bottom
    # row undecided.
    areas = patch_areas(17, 14, 5)
    logits = torch.full((1, 1, 4, 3), 30.0)
    logits[..., -1, :] = 0
    assert float(indecision_loss(logits, areas)) == pytest.approx(28 / 238)


def test_straight_through_gates_are_binary_with_gradients():
    logits = torch.zeros(2, 3, 4, 4, requires_grad=True)
    torch.manual_seed(0)
    gates = gumbel_sigmoid_gates(logits, temperature=1.0)
    assert set(gates.detach().unique().tolist()) <= {0.0, 1.0}
    loss = compute_loss(gates[None], 0.25)
    loss.backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='target'):
        compute_loss(gates[None], 1.5)
    with pytest.raises(ValueError, match='temperature'):
        gumbel_sigmoid_gates(logits, 0)


def test_gate_noise_zero_makes_training_decisions_the_test_time_ones():
    logits = torch.linspace(-2, 2, 64).reshape(1, 1, 8, 8).requires_grad_()
    torch.manual_seed(0)
    noiseless = gumbel_sigmoid_gates(logits, temperature=0.5, noise=0.0)
    assert torch.equal(noiseless.detach().bool(), hard_gates(logits.detach(), 0.5))
    compute_loss(noiseless[None], 0.25).backward()  # the straight-through gradient stays
    assert logits.grad.abs().sum() > 0
    # With the full noise the same confidences open at random: 0.6 opens in
    # about 60% of the draws, never in all of them.
    torch.manual_seed(0)
    undecided = torch.full((1, 1, 64, 64), float(torch.logit(torch.tensor(0.6))))
    share = gumbel_sigmoid_gates(undecided, temperature=0.5).mean().item()
    assert 0.55 < share < 0.65
    with pytest.raises(ValueError, match='noise'):
        gumbel_sigmoid_gates(logits, 1.0, noise=1.5)


def test_gate_noise_anneals_with_the_temperature():
    _, routed = _routed(anneal_iters=4, min_noise=0.0)
    assert routed.gate_noise() == 1.0
    routed.route_iter.fill_(2)
    assert routed.gate_noise() == pytest.approx(0.5)
    routed.route_iter.fill_(9)
    assert routed.gate_noise() == 0.0
    assert routed.temperature() == pytest.approx(routed.routing['min_temperature'])
    assert _routed()[1].gate_noise() == 1.0  # the default keeps the noise


def test_open_bias_sets_where_fresh_estimators_start():
    from vsr_multigrid.engine.routing import RoutedBasicVSRNet
    for bias, share in ((3.0, 1.0), (0.0, 0.0), (-2.0, 0.0)):
        routed = RoutedBasicVSRNet(8, 2, routing=dict(open_bias=bias, patch=5)).eval()
        assert torch.equal(routed.forward_router.head.bias, torch.full((2,), bias))
        routed(_lr_clip())  # threshold 0.5: a logit of exactly 0 does not run
        first_frames = 2 / (2 * 3)  # each branch's first frame runs all (temporal cue)
        expected = first_frames + (1 - first_frames) * share
        assert routed.executed_fraction() == pytest.approx(expected)


# -- the MMagic generator ----------------------------------------------------
def _routed(threshold=0.5, seed=0, arch='basicvsr', **routing):
    from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet
    from mmagic.models.editors.iconvsr.iconvsr_net import IconVSRNet

    from vsr_multigrid.engine.routing import RoutedBasicVSRNet, RoutedIconVSRNet
    stock_type, routed_type, keys = dict(
        basicvsr=(BasicVSRNet, RoutedBasicVSRNet, dict(mid_channels=8, num_blocks=2)),
        # IconVSR's EDVR is fixed at 64 channels; 5+ frames for its refill
        iconvsr=(IconVSRNet, RoutedIconVSRNet, dict(mid_channels=64, num_blocks=2,
                                                    keyframe_stride=3)))[arch]
    torch.manual_seed(seed)
    stock = stock_type(**keys).eval()
    routed = routed_type(**keys, routing=dict(patch=5, threshold=threshold, **routing)).eval()
    missing, unexpected = routed.load_state_dict(stock.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(('backward_router.', 'forward_router.',
                                                 'route_iter')) for k in missing)
    with torch.no_grad():  # decisive estimators: some patches run, some not
        for estimator in (routed.backward_router, routed.forward_router):
            estimator.head.weight.normal_(0, 2)
            estimator.head.bias.zero_()
    return stock, routed


def _lr_clip(t=3):
    return torch.rand(1, t, 3, 17, 14, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize('arch,cue', [('basicvsr', False), ('iconvsr', False),
                                      ('basicvsr', True)])
def test_routed_generator_all_open_is_the_stock_one_and_all_closed_skips_blocks(arch, cue):
    stock, routed = _routed(threshold=0.0, arch=arch, temporal_cue=cue)
    t = 6 if arch == 'iconvsr' else 3
    clip = _lr_clip(t=t)
    with torch.no_grad():
        assert torch.allclose(routed(clip), stock(clip), atol=1e-6)
        assert routed.executed_fraction() == 1.0
        routed.threshold = 1.0  # nothing passes: every block is the identity ...
        closed = routed(clip)
        if cue:  # ... but on each branch's first frame, which has no previous one
            assert routed.executed_fraction() == pytest.approx(1 / t)
            return
        assert routed.executed_fraction() == 0.0
        for name, param in stock.named_parameters():
            if '_resblocks.main.2.' in name and '.conv2.' in name:
                param.zero_()
        assert torch.allclose(closed, stock(clip), atol=1e-6)


@pytest.mark.parametrize('arch', ['basicvsr', 'iconvsr'])
def test_routed_generator_sparse_equals_masked_and_refresh_runs_everything(arch):
    _, routed = _routed(arch=arch)
    clip = _lr_clip(t=6 if arch == 'iconvsr' else 4)
    with torch.no_grad():
        sparse = routed(clip)
        fraction = routed.executed_fraction()
        routed.routing['inference'] = 'masked'
        masked = routed(clip)
    assert 0 < fraction < 1
    assert torch.allclose(sparse, masked, atol=1e-5)
    stock, refreshed = _routed(refresh_interval=1, arch=arch)
    with torch.no_grad():
        assert torch.allclose(refreshed(clip), stock(clip), atol=1e-6)
        assert refreshed.executed_fraction() == 1.0
    fractions = []
    for threshold in (0.2, 0.4, 0.6, 0.8):
        routed.threshold = threshold
        with torch.no_grad():
            routed(clip)
        fractions.append(routed.executed_fraction())
    assert fractions == sorted(fractions, reverse=True)


def test_test_share_fixes_the_executed_share_whatever_the_threshold():
    _, routed = _routed(threshold=0.9, temporal_cue=False)
    clip = _lr_clip(t=4)
    with torch.no_grad():
        routed(clip)
        by_threshold = routed.executed_fraction()
        shares = []
        for share in (0.0, 0.3, 0.6, 1.0):
            routed.test_share = share  # replaces the threshold
            routed.record_maps = True
            routed(clip)
            shares.append(routed.executed_fraction())
            for gates in routed.gate_maps.values():  # each frame and branch
                pairs = gates[0].numel()
                assert gates.float().mean().item() == pytest.approx(round(share * pairs) / pairs)
    assert shares == sorted(shares) and shares[0] == 0.0 and shares[-1] == 1.0
    assert by_threshold < shares[2]  # the confident threshold ran fewer
    _, configured = _routed(test_share=0.3, temporal_cue=False)
    with torch.no_grad():
        configured(clip)
    assert configured.executed_fraction() == pytest.approx(shares[1])


def test_routed_training_forward_gives_every_parameter_a_gradient():
    _, routed = _routed(target=0.25, anneal_iters=10)
    routed.train()
    out = routed(_lr_clip())
    assert int(routed.route_iter) == 1 and routed.temperature() < 1.0
    loss = out.abs().mean() + routed.compute_loss()
    loss.backward(retain_graph=True)
    for name, param in routed.named_parameters():
        assert param.grad is not None, name
    # The indecision term reaches both estimators and nothing else: through
    # the features it would inflate the backbone's activations (bench11).
    before = {name: param.grad.clone() for name, param in routed.named_parameters()}
    assert 0 < float(routed.indecision_loss()) <= 1
    routed.indecision_loss().backward()
    for name, param in routed.named_parameters():
        changed = not torch.equal(param.grad, before[name])
        assert changed == (name.split('.')[0] in ('backward_router', 'forward_router') and
                           name.split('.')[1] in ('reduce', 'head')), name


@pytest.mark.parametrize('budget', ['clip', 'frame', 'unit'])
def test_routed_compute_loss_holds_the_target_per_budget(budget):
    _, routed = _routed(target=0.25, budget=budget, temporal_cue=False)
    routed.train()
    routed(_lr_clip())
    gates = torch.stack(routed.train_gates).detach()  # (branch steps, n, units, gh, gw)
    assert gates.shape[:3] == (6, 1, 2)
    shares = executed_share(gates, routed._areas, dims=dict(
        clip=(0, 1, 2, 3, 4), frame=(1, 2, 3, 4), unit=(1, 3, 4))[budget])
    assert float(routed.compute_loss()) == pytest.approx(float(((shares - 0.25) ** 2).mean()))
    # The training forward's executed shares, by branch, average to the whole.
    assert routed.executed_fraction() == pytest.approx(
        (routed.executed_fraction('backward') + routed.executed_fraction('forward')) / 2)


def test_dense_interval_steps_run_every_block_and_train_only_the_backbone():
    stock, routed = _routed(target=0.25, anneal_iters=10, dense_interval=2)
    with torch.no_grad():  # estimators that would close most blocks
        for estimator in (routed.backward_router, routed.forward_router):
            estimator.head.bias.fill_(-3.0)
    routed.train()
    stock.train()
    clip = _lr_clip()
    for step in (1, 2):
        routed.zero_grad()
        out = routed(clip)
        assert int(routed.route_iter) == step
        (out.abs().mean() + routed.compute_loss()).backward()
        grads = {name: param.grad for name, param in routed.named_parameters()}
        assert all(grad is not None for grad in grads.values())  # DDP: every parameter used
        router_grad = sum(grad.abs().sum() for name, grad in grads.items() if '_router.' in name)
        if step == 1:  # routed: blocks skipped, the estimators learn
            assert routed.executed_fraction() < 0.5 and router_grad > 0
        else:  # dense: the stock generator's output, the estimators' gradient is zero
            assert routed.executed_fraction() == 1.0 and router_grad == 0
            assert float(routed.compute_loss()) == 0.0
            assert float(routed.indecision_loss()) == 0.0
            with torch.no_grad():
                assert torch.allclose(out, stock(clip), atol=1e-6)


def test_reuse_takes_the_aligned_hidden_state_where_every_unit_is_closed():
    from vsr_multigrid.routing.blocks import reuse_where_closed
    feat, aligned = _feat(seed=1), _feat(seed=2)
    gates = torch.zeros(2, 3, 4, 3, dtype=torch.bool)  # patch 4 on 13 x 10
    gates[0, 1, 0, 0] = True  # one unit open: the patch keeps its blocks' output
    gates[1, :, 3, 2] = True  # the overhanging corner patch, all open
    out = reuse_where_closed(feat, aligned, gates, 4)
    assert torch.equal(out[0, :, :4, :4], feat[0, :, :4, :4])
    assert torch.equal(out[1, :, 12:, 8:], feat[1, :, 12:, 8:])
    kept = torch.zeros(2, 1, 13, 10, dtype=torch.bool)
    kept[0, :, :4, :4] = kept[1, :, 12:, 8:] = True
    assert torch.equal(out.masked_select(~kept), aligned.masked_select(~kept))
    # Training: straight-through gates keep a gradient through the product.
    soft = gates.float().requires_grad_()
    reuse_where_closed(feat, aligned, soft, 4).sum().backward()
    assert soft.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='aligned'):
        reuse_where_closed(feat, aligned[:, :2], gates, 4)


def test_routed_generator_reuses_only_after_each_branch_first_frame(monkeypatch):
    from vsr_multigrid.engine import routing
    calls = []
    real = routing.reuse_where_closed

    def spy(feat, aligned, gates, patch):
        out = real(feat, aligned, gates, patch)
        calls.append((aligned, gates, out))
        return out

    monkeypatch.setattr(routing, 'reuse_where_closed', spy)
    _, routed = _routed(threshold=1.0, reuse=True)  # every gate closed
    with torch.no_grad():
        routed(_lr_clip(t=3))
    # 2 branches x (3 frames - the first, which runs all blocks under the cue)
    assert len(calls) == 4
    for aligned, gates, out in calls:
        assert not gates.any() and torch.equal(out, aligned)
    calls.clear()
    _, routed = _routed(threshold=1.0)  # reuse off by default
    with torch.no_grad():
        routed(_lr_clip(t=3))
    assert not calls


def test_static_patches_mark_unchanged_inputs_with_a_margin():
    from vsr_multigrid.routing.gates import static_patches
    previous = torch.rand(1, 3, 17, 14, generator=torch.Generator().manual_seed(1))
    assert static_patches(previous, previous.clone(), 5).all()  # 4 x 3 patches
    lr = previous.clone()
    lr[0, 1, 7, 4] += 0.1  # patch (1, 0); one pixel from patch (1, 1)
    static = static_patches(lr, previous, 5)
    assert static.shape == (1, 1, 4, 3)
    moved = {tuple(i) for i in (~static[0, 0]).nonzero().tolist()}
    assert moved == {(1, 0), (1, 1)}  # the margin reaches across the edge at x = 5
    assert static_patches(lr, previous, 5, margin=0)[0, 0].logical_not().sum() == 1
    assert static_patches(lr, previous, 5, tolerance=0.2).all()
    with pytest.raises(ValueError, match='differ in shape'):
        static_patches(lr, previous[..., :-1], 5)


@pytest.mark.parametrize('inference', ['sparse', 'masked'])
def test_static_patches_keep_the_previous_hidden_state(inference):
    # A clip whose frames repeat the first: after each branch's first frame
    # (all blocks) every patch is static, so no block runs and every frame
    # keeps the branches' first hidden states: all outputs are equal.
    still = _lr_clip(t=1).expand(1, 4, 3, 17, 14).contiguous()
    _, routed = _routed(threshold=0.0, static_tolerance=0.0, inference=inference)
    routed.record_maps = True
    with torch.no_grad():
        out = routed(still)
    for t in range(1, 4):
        assert torch.equal(out[:, t], out[:, 0])
    assert routed.executed_fraction() == pytest.approx(1 / 4)
    # One pixel changes in frame 2: where it lies (patch (1, 1) of 5-pixel
    # patches, away from its edges) blocks run on the frames that differ
    # from their branch's previous one; every other patch stays closed.
    moving = still.clone()
    moving[0, 2, :, 7, 7] += 0.3
    with torch.no_grad():
        routed(moving)
    changed = {('forward', 2), ('forward', 3), ('backward', 2), ('backward', 1)}
    for key in [('forward', 1), ('backward', 0), *changed]:
        ran = routed.gate_maps[key][0].any(dim=0)
        assert ran.sum() == (key in changed) and (key not in changed or ran[1, 1]), key


def _reconstruction_head(c=4, seed=0):
    """The stock reconstruction (fusion, two pixel-shuffle upsamplings,
    conv_hr, conv_last) at width ``c``, random weights."""
    import functools

    from vsr_multigrid.pruning.basicvsr import reconstruct_residual
    torch.manual_seed(seed)
    convs = dict(fusion=nn.Conv2d(2 * c, c, 1), upsample1=nn.Conv2d(c, 4 * c, 3, 1, 1),
                 upsample2=nn.Conv2d(c, 4 * c, 3, 1, 1), conv_hr=nn.Conv2d(c, c, 3, 1, 1),
                 conv_last=nn.Conv2d(c, 3, 3, 1, 1))
    return functools.partial(reconstruct_residual, convs)


@pytest.mark.parametrize('patch,changed_at', [(5, [(1, 2)]), (5, [(0, 0), (2, 3)]),
                                              (4, [(3, 1)]), (6, [])])
def test_reconstructing_around_changed_patches_equals_the_whole_frame(patch, changed_at):
    from vsr_multigrid.routing.outputs import reconstruct_changed
    from vsr_multigrid.routing.patches import patch_grid
    head = _reconstruction_head()
    n, h, w = 2, 13, 18  # patches 4, 5, 6 do not divide the frame
    previous = [torch.randn(n, 4, h, w, generator=torch.Generator().manual_seed(i))
                for i in (1, 2)]
    changed = torch.zeros(n, *patch_grid(h, w, patch), dtype=torch.bool)
    current = [x.clone() for x in previous]
    for row, col in changed_at:  # new inputs in these patches of the second frame only
        changed[1, row, col] = True
        for x in current:
            x[1, :, row * patch:(row + 1) * patch, col * patch:(col + 1) * patch] = \
                torch.randn_like(x[1, :, row * patch:(row + 1) * patch,
                                   col * patch:(col + 1) * patch])
    with torch.no_grad():
        previous_out, whole = head(*previous), head(*current)
        out = reconstruct_changed(head, current, changed, previous_out, patch)
        assert out.shape == whole.shape == (n, 3, 4 * h, 4 * w)
        assert torch.allclose(out, whole, atol=1e-6)
        if changed_at:
            assert not torch.allclose(whole, previous_out, atol=1e-3)
        if len(changed_at) == 1:  # (two far patches' box is the whole frame)
            # The head reads 3 LR pixels around each output pixel: a smaller
            # halo leaves stale pixels at the box's edge.
            short = reconstruct_changed(head, current, changed, previous_out, patch, halo=1)
            assert not torch.allclose(short, whole, atol=1e-4)
        if not changed_at:
            assert out is previous_out


def test_static_output_reconstructs_only_around_the_moving_pixel():
    # One pixel moves in frame 2 of a still clip: the frames whose output
    # reads it (2 and 3, whose hidden states differ from their previous
    # frame's there) reconstruct a box around its patch and reuse the rest;
    # the result equals reconstructing every frame whole.
    still = _lr_clip(t=1).expand(1, 5, 3, 17, 14).contiguous()
    still[0, 2, :, 7, 7] += 0.3
    outs = {}
    for static_output in (True, False):
        _, routed = _routed(threshold=0.5, static_tolerance=0.0, static_output=static_output)
        routed.record_maps = True
        with torch.no_grad():
            outs[static_output] = routed(still)
        maps = routed.gate_maps
    assert torch.allclose(outs[True], outs[False], atol=1e-6)
    _, routed = _routed(threshold=0.5, static_tolerance=0.0)
    routed.record_maps = True
    with torch.no_grad():
        routed(still)
    assert ('output', 0) in routed.gate_maps and routed.gate_maps[('output', 0)] is None
    for t in (1, 4):  # nothing moved between these frames and their previous
        assert not routed.gate_maps[('output', t)].any()
    for t in (2, 3):
        assert routed.gate_maps[('output', t)][0].nonzero().tolist() == [[1, 1]]
    # Frame 0 whole, frames 1 and 4 nothing, frames 2 and 3 the patch
    # (rows and columns 5 to 9) grown by the 3-pixel halo: 11 x 11 LR pixels.
    box = 11 * 11 / (17 * 14)
    assert routed.reconstructed_fraction() == pytest.approx((1 + 2 * box) / 5)
    assert not any(key[0] == 'output' for key in maps)  # off: nothing recorded


def test_temporal_cue_and_the_warped_previous_frame():
    from vsr_multigrid.nets.recurrence import bidirectional_recurrence
    from vsr_multigrid.routing.gates import ConfidenceEstimator, temporal_cue
    lrs = _lr_clip(t=4)
    flows = 0.7 * torch.randn(1, 3, 2, 17, 14, generator=torch.Generator().manual_seed(2))

    def warp(feat, flow):
        from mmagic.models.utils import flow_warp
        return flow_warp(feat, flow)

    seen = {}

    def step(branch):
        def run(lr, hidden, i, *backward_feat, **extra):
            seen[(branch, i)] = extra.get('previous_lr', 'absent')
            return hidden + lr.mean(1, keepdim=True)
        return run

    def run(warp_previous_frame):
        return bidirectional_recurrence(
            lrs, flows, flows, step('backward'), step('forward'),
            lambda lr, fb, ff, i: fb + ff, (2, 2), warp, warp_previous_frame)

    plain = run(False)
    assert all(v == 'absent' for v in seen.values())
    assert torch.equal(run(True), plain)  # the hidden state is warped as before
    assert seen[('backward', 3)] is None and seen[('forward', 0)] is None
    expected = warp(lrs[:, 1], flows[:, 1].permute(0, 2, 3, 1))  # forward: frame 1 onto 2
    assert torch.allclose(seen[('forward', 2)], expected, atol=1e-6)

    assert temporal_cue(lrs[:, 0], lrs[:, 0]).abs().max() == 0
    estimator = ConfidenceEstimator(4, 2, patch=4, cue_channels=1)
    torch.nn.init.normal_(estimator.head.weight)
    feat = torch.rand(1, 4, 8, 8)
    assert not torch.equal(estimator(feat, torch.zeros(1, 1, 8, 8)),
                           estimator(feat, torch.ones(1, 1, 8, 8)))
    with pytest.raises(ValueError, match='cue'):
        estimator(feat)


def test_routing_keys_are_completed_and_checked_by_the_plain_torch_core():
    from vsr_multigrid.routing.config import ROUTING_DEFAULTS, check_routing
    cfg = check_routing(dict(target=0.3), num_blocks=4)
    assert cfg == {**ROUTING_DEFAULTS, 'target': 0.3, 'units': 4}
    assert check_routing(None, 4)['units'] == 4
    with pytest.raises(ValueError, match=r"routing key\(s\) \['budjet'\] unknown"):
        check_routing(dict(budjet='frame'), 4)


def test_routing_keys_are_checked():
    from vsr_multigrid.engine.routing import RoutedBasicVSRNet
    with pytest.raises(ValueError, match='routing key'):
        RoutedBasicVSRNet(8, 2, routing=dict(pach=16))
    with pytest.raises(ValueError, match='units'):
        RoutedBasicVSRNet(8, 2, routing=dict(units=3))
    with pytest.raises(ValueError, match='threshold'):
        RoutedBasicVSRNet(8, 2, routing=dict(threshold=2))
    with pytest.raises(ValueError, match='temporal_cue'):
        RoutedBasicVSRNet(8, 2, routing=dict(temporal_cue=1))
    with pytest.raises(ValueError, match='reuse'):
        RoutedBasicVSRNet(8, 2, routing=dict(reuse='yes'))
    with pytest.raises(ValueError, match='static_output'):
        RoutedBasicVSRNet(8, 2, routing=dict(static_output=None))
    with pytest.raises(ValueError, match='dense_interval'):
        RoutedBasicVSRNet(8, 2, routing=dict(dense_interval=-1))
    for bad in (11, None, True):
        with pytest.raises(ValueError, match='open_bias'):
            RoutedBasicVSRNet(8, 2, routing=dict(open_bias=bad))
    for bad in (-0.1, 1.5, True):
        with pytest.raises(ValueError, match='min_noise'):
            RoutedBasicVSRNet(8, 2, routing=dict(min_noise=bad))
    with pytest.raises(ValueError, match='routing.budget'):
        RoutedBasicVSRNet(8, 2, routing=dict(budget='branch'))
    for bad in (-0.1, 1.5, True, '0.5'):
        with pytest.raises(ValueError, match='test_share'):
            RoutedBasicVSRNet(8, 2, routing=dict(test_share=bad))
    for bad in (-0.1, True, '0'):
        with pytest.raises(ValueError, match='static_tolerance'):
            RoutedBasicVSRNet(8, 2, routing=dict(static_tolerance=bad))


def test_oracle_labels_mark_each_units_largest_gains():
    from vsr_multigrid.routing.gates import oracle_labels
    gains = torch.randn(3, 2, 4, 5, 6, generator=torch.Generator().manual_seed(0))
    labels = oracle_labels(gains, 0.25)
    per_unit = labels.flatten(1)
    assert torch.all(per_unit.sum(1) == round(0.25 * per_unit.size(1)))
    for unit in range(3):
        chosen, rest = gains[unit][labels[unit] == 1], gains[unit][labels[unit] == 0]
        assert chosen.min() > rest.max()
    assert oracle_labels(gains, 0.0).sum() == 0 and oracle_labels(gains, 1.0).all()
    with pytest.raises(ValueError, match='oracle share'):
        oracle_labels(gains, 1.5)


def test_patch_errors_average_each_patch_edge_patches_by_their_own_pixels():
    from vsr_multigrid.routing.gates import patch_errors
    gt = torch.zeros(1, 2, 3, 6, 10)
    out = gt.clone()
    out[0, 1, :, :4, 8:] = 0.5      # frame 1, the right-hand edge patch (4x2 px)
    errors = patch_errors(out, gt, 4)
    assert errors.shape == (1, 2, 2, 3)
    assert errors[0, 1, 0, 2] == pytest.approx(0.5)   # its own 8 pixels, not 16
    assert errors.sum() == pytest.approx(0.5)


def test_oracle_loss_trains_only_the_estimators_and_leaves_the_step_as_it_was():
    from vsr_multigrid.engine.routing import RoutedBasicVSR
    _, routed = _routed(target=0.5, anneal_iters=10)
    routed.train()
    clip = _lr_clip(t=4)
    gt = torch.rand(1, 4, 3, 68, 56, generator=torch.Generator().manual_seed(7))
    routed(clip)
    before = (float(routed.compute_loss()), routed.executed_fraction(), int(routed.route_iter))
    loss = routed.oracle_loss(clip, gt)
    # The oracle's forwards neither count as training steps nor replace the
    # step's gates, shares or pools.
    assert (float(routed.compute_loss()), routed.executed_fraction(),
            int(routed.route_iter)) == before
    assert routed.forced_maps is None
    assert torch.isfinite(loss) and float(loss) > 0
    loss.backward()
    for name, param in routed.named_parameters():
        estimator = name.split('.')[0] in ('backward_router', 'forward_router') and \
            name.split('.')[1] in ('reduce', 'head')
        assert (param.grad is not None and param.grad.abs().sum() > 0) == estimator, name
    with pytest.raises(ValueError, match='oracle_weight'):
        RoutedBasicVSR(generator=dict(type='RoutedBasicVSRNet', mid_channels=8, num_blocks=2),
                       pixel_loss=dict(type='CharbonnierLoss'), oracle_weight=-1)


def test_routed_checkpoint_round_trip():
    import copy
    _, routed = _routed(anneal_iters=4)
    routed.train()
    routed(_lr_clip())  # one training forward: route_iter 1, temperature moved
    state = copy.deepcopy(routed.state_dict())
    _, fresh = _routed(seed=3, anneal_iters=4)
    fresh.load_state_dict(state)
    assert int(fresh.route_iter) == 1 and fresh.temperature() == routed.temperature()
    routed.eval()
    fresh.eval()
    clip = _lr_clip()
    with torch.no_grad():
        assert torch.equal(fresh(clip), routed(clip))


def test_still_clip_moves_only_in_its_box(tmp_path):
    import cv2
    import numpy as np

    from vsr_multigrid.data.video_to_reds import build_still_clip, demo_video_paths
    clip = build_still_clip(demo_video_paths()[0], str(tmp_path), clip_len=6, scale=4,
                            max_width=160)
    frames = [cv2.imread(str(tmp_path / 'train_sharp' / '000' / f'{i:08d}.png'))
              for i in range(6)]
    lr = cv2.imread(str(tmp_path / 'train_sharp_bicubic' / 'X4' / '000' / '00000005.png'))
    h, w = frames[0].shape[:2]
    assert lr.shape[:2] == (h // 4, w // 4) and clip.split == 'val'
    moved = np.abs(frames[5].astype(int) - frames[0].astype(int)).sum(2) > 0
    ys, xs = np.nonzero(moved)
    assert ys.size > 0  # the real video moves inside the box ...
    assert ys.min() >= h // 4 - 4 and ys.max() < 3 * h // 4 + 4  # ... and only there
    assert xs.min() >= w // 4 - 4 and xs.max() < 3 * w // 4 + 4
    assert (tmp_path / 'meta_info_val.txt').read_text().startswith('000 6 (')
    with pytest.raises(ValueError, match='moving_box'):
        build_still_clip(demo_video_paths()[0], str(tmp_path), moving_box=(0.5, 0, 0.2, 1))


def test_replayed_decisions_drive_a_wider_model():
    """A 2-block model's per-unit decisions, replayed on a 4-block model,
    skip the blocks of each unit where the small model skipped it."""
    _, small = _routed()
    clip = _lr_clip()
    small.record_maps = True
    with torch.no_grad():
        small(clip)
    maps = small.gate_maps
    assert len(maps) == 2 * clip.size(1)
    from vsr_multigrid.engine.routing import RoutedBasicVSRNet
    torch.manual_seed(1)
    wide = RoutedBasicVSRNet(mid_channels=12, num_blocks=4,
                             routing=dict(patch=5, units=2)).eval()
    wide.forced_maps = maps
    with torch.no_grad():
        replayed = wide(clip)
        fraction = wide.executed_fraction()
        wide.routing['inference'] = 'masked'
        masked = wide(clip)
    assert fraction == pytest.approx(small.executed_fraction())
    assert torch.allclose(replayed, masked, atol=1e-5)


# -- routing on top of a pruned model ---------------------------------------
@pytest.mark.parametrize('arch', ['basicvsr', 'iconvsr'])
def test_routed_pruned_generator_is_the_pruned_one_when_all_gates_open(arch):
    from vsr_multigrid.engine.pruning import PrunedBasicVSRNet, PrunedIconVSRNet, generator_convs
    from vsr_multigrid.engine.routing import RoutedPrunedBasicVSRNet, RoutedPrunedIconVSRNet
    from vsr_multigrid.pruning import basicvsr as core
    from vsr_multigrid.pruning.spec import ChannelSpec
    stock, _ = _routed(arch=arch)
    g = torch.Generator().manual_seed(3)
    kept = {}
    for name, size in core.channel_groups(generator_convs(stock, 2, arch)).items():
        count = int(torch.randint(1, size + 1, (1,), generator=g))
        kept[name] = sorted(torch.randperm(size, generator=g)[:count].tolist())
    keys = dict(keyframe_stride=3) if arch == 'iconvsr' else {}
    spec = ChannelSpec(type(stock).__name__, stock.mid_channels, 2, 'aligned', kept,
                       **keys).to_dict()
    pruned_type, routed_type = dict(basicvsr=(PrunedBasicVSRNet, RoutedPrunedBasicVSRNet),
                                    iconvsr=(PrunedIconVSRNet, RoutedPrunedIconVSRNet))[arch]
    torch.manual_seed(0)
    pruned = pruned_type(spec).eval()
    with torch.no_grad():  # blocks that matter (the stock init scales them by 0.1)
        for p in pruned.parameters():
            p.add_(0.05 * torch.randn_like(p))
    routed = routed_type(spec, routing=dict(patch=5, threshold=0.0)).eval()
    assert routed.hidden_channels == tuple(len(kept[f'{b}_stream'])
                                           for b in ('backward', 'forward'))
    missing, unexpected = routed.load_state_dict(pruned.state_dict(), strict=False)
    assert not unexpected and all('_router.' in k or k == 'route_iter' for k in missing)
    clip = _lr_clip(t=6 if arch == 'iconvsr' else 3)
    with torch.no_grad():
        # (the routed forward warps the hidden state and the previous LR frame
        # in one call: float rounding differs in the last bits)
        expected = pruned(clip)
        assert (routed(clip) - expected).abs().max() < 1e-5 * expected.abs().max()
        routed.threshold = 1.0  # every block skipped: the output changes
        assert not torch.allclose(routed(clip), pruned(clip), atol=1e-3)
    # A dense checkpoint does not fit: the pruned model's refusal names the layer.
    with pytest.raises(ValueError, match='does not fit the channel spec'):
        routed.load_state_dict(stock.state_dict(), strict=False)
    with pytest.raises(ValueError, match='aligned stream layout'):
        routed_type(dict(spec, stream_mode='rsc'))


def test_sparse_blocks_refuse_convs_they_cannot_run_unpadded():
    """The gathered path runs each block's convs without padding, which is
    exact only for the stock 3x3, stride-1, padding-1 convs."""
    convs, feat = _convs(), _feat()
    convs['backward.block0.conv1'] = nn.Conv2d(C, C, 5, padding=2)
    gates = torch.zeros(2, 1, *patch_grid(13, 10, 4), dtype=torch.bool)
    gates[0, 0, 0, 0] = True
    with pytest.raises(ValueError, match='3x3 convs with stride 1 and padding 1'):
        routed_residual_blocks(convs, 'backward', BLOCKS, feat, gates, 4, 'sparse')


def test_phase2_distils_the_dense_start_whose_generator_is_the_routed_one_unrouted(tmp_path):
    """With ``model.teacher`` the loss dict gains ``loss_distill``: the routed
    output against the frozen dense model's (zero when every block runs); the
    teacher's generator defaults to the routed config without routing, and it
    is not saved with the model."""
    from mmagic.registry import MODELS
    from mmagic.structures import DataSample
    from mmengine.registry import init_default_scope

    from vsr_multigrid.engine.routing import dense_generator_cfg
    init_default_scope('mmagic')
    routed_cfg = dict(type='RoutedBasicVSRNet', mid_channels=8, num_blocks=2,
                      routing=dict(patch=5, target=0.25))
    assert dense_generator_cfg(routed_cfg) == dict(type='BasicVSRNet', mid_channels=8,
                                                   num_blocks=2)
    with pytest.raises(ValueError, match='routed generator'):
        dense_generator_cfg(dict(type='BasicVSRNet'))
    stock, routed = _routed()
    checkpoint = tmp_path / 'dense.pth'
    torch.save({'state_dict': {f'generator.{k}': v for k, v in stock.state_dict().items()}},
               checkpoint)

    def build(routing=None, **keys):
        generator = dict(routed_cfg, routing=dict(routed_cfg['routing'], **(routing or {})))
        model = MODELS.build(dict(type='RoutedBasicVSR', generator=generator,
                                  pixel_loss=dict(type='CharbonnierLoss'), **keys))
        model.generator.load_state_dict(routed.state_dict())
        return model.train()

    clip = _lr_clip()
    gt = DataSample(gt_img=torch.rand(1, 3, 3, 68, 56, generator=torch.Generator().manual_seed(1)))
    assert 'loss_distill' not in build().forward_train(clip, gt)
    teacher = dict(teacher=dict(checkpoint=str(checkpoint)), distill_weight=0.5)
    model = build(**teacher)
    distill = model.forward_train(clip, gt)['loss_distill']
    assert model.generator.executed_fraction() < 1 and float(distill) > 0
    distill.backward()
    assert model.generator.forward_resblocks.main[2][0].conv1.weight.grad is not None
    assert all(p.grad is None for p in model._teacher[0].parameters())
    assert not any('teacher' in k for k in model.state_dict())
    # Every step dense: the student is its teacher.
    dense = build(routing=dict(dense_interval=1), **teacher)
    assert float(dense.forward_train(clip, gt)['loss_distill']) < float(distill) / 100
    with pytest.raises(FileNotFoundError, match='model.teacher.checkpoint'):
        build(teacher=dict(checkpoint=str(tmp_path / 'none.pth')))
