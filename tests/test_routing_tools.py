"""Skip routing through the real launcher and the report tool."""
import json
import re
import sys

import pytest
import torch

from conftest import REPO, SMALL, run_tool, train

PHASE1 = f'{REPO}/configs/routing/basicvsr_routed-phase1_tiny_demo.py'
ROUTED_SMALL = SMALL + ['model.generator.routing.anneal_iters=2']


def test_phase1_trains_only_the_estimators_then_the_report_runs(demo_data, tmp_path):
    work = tmp_path / 'phase1'
    opts = ROUTED_SMALL + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                           'default_hooks.checkpoint.interval=1', 'model.oracle_weight=0.5']
    proc = train(PHASE1, work, demo_data, opts)
    assert re.search(r'loss_compute: \S+ +loss_oracle: \S+', proc.stdout + proc.stderr)
    first = torch.load(work / 'iter_1.pth', map_location='cpu')['state_dict']
    state = torch.load(work / 'iter_2.pth', map_location='cpu')['state_dict']
    assert int(state['generator.route_iter']) == 2
    # lr_mult 0 holds the backbone (past fix_iter, when BasicVSR re-enables
    # its gradients); the estimators move.
    block = 'generator.backward_resblocks.main.2.0.conv1.weight'
    # The output conv: it starts at zero, so its input conv gets no gradient
    # in step 1, and in step 2 (temperature 0.1 after anneal_iters=2) the
    # gates may saturate; the output conv still moves (Adam's momentum).
    router = 'generator.backward_router.head.weight'
    assert torch.equal(first[block], state[block])
    assert not torch.equal(first[router], state[router])
    out = tmp_path / 'report'
    proc = run_tool([sys.executable, 'tools/route_report.py', PHASE1, str(work / 'iter_2.pth'),
                     '--thresholds', '0.3', '0.9', '--shares', '0.25', '--repeats', '1',
                     '--out', str(out),
                     '--replay-width', '8', '2',
                     # The phase-1 config's static_tolerance would close
                     # unchanged patches on top of the share's choice (by
                     # chance overlap with it: a flaky executed share).
                     '--cfg-options', *ROUTED_SMALL,
                     'model.generator.routing.static_tolerance=None'], demo_data)
    assert '| rule |' in proc.stdout and '| share 0.25 |' in proc.stdout
    rows = json.load(open(out / 'report.json'))['rows']
    assert {r['rule'] for r in rows} == {'dense', '0.3', '0.9', 'share 0.25'}
    for clip in {r['clip'] for r in rows}:
        low, high, share = (next(r for r in rows if r['clip'] == clip and r['rule'] == rule)
                            for rule in ('0.3', '0.9', 'share 0.25'))
        assert low['executed'] >= high['executed']
        # Each branch's first frame runs every block (no temporal cue yet);
        # the others run a quarter of their pairs (patches weighted by pixels).
        assert share['share'] == 0.25 and 0.2 < share['executed'] < 0.5
        for row in (low, high, share):  # the two branches average to the whole
            assert row['executed'] == pytest.approx(
                (row['executed_backward'] + row['executed_forward']) / 2)
    assert all(r['wide_speedup'] > 0 for r in rows if r['rule'] != 'dense')
    assert 'Where the blocks run at 0.3' in proc.stdout
    where = json.load(open(out / 'report.json'))['where']
    assert set(where) == {r['clip'] for r in rows}
    for branches in where.values():
        assert set(branches) == {'backward', 'forward'}
        assert all(0 <= info['split'] <= 1 and all(0 <= x <= 1 for x in info['unit_shares'])
                   for info in branches.values())
    assert (out / 'patch_map.png').stat().st_size > 1000


def test_where_blocks_run_tells_a_closed_branch_from_split_patches():
    from types import SimpleNamespace

    from route_report import where_blocks_run
    frames, ones, zeros = 3, torch.ones(1, 2, 2, 3, dtype=torch.bool), \
        torch.zeros(1, 2, 2, 3, dtype=torch.bool)
    half = zeros.clone()
    half[:, 0, 0] = True  # unit 0 runs one row of patches, unit 1 none
    maps = {('backward', t): ones for t in range(frames)}
    maps.update({('forward', 0): None, ('forward', 1): zeros, ('forward', 2): half})
    where = where_blocks_run(SimpleNamespace(gate_maps=maps), frames)
    assert where['backward'] == dict(unit_shares=[1.0, 1.0], split=0.0, frames=3)
    # The forward branch's first frame ran every block: left out.
    assert where['forward'] == dict(unit_shares=[0.25, 0.0], split=0.25, frames=2)


def test_phase1_two_processes(demo_data, tmp_path):
    work = tmp_path / 'ddp'
    train(PHASE1, work, demo_data,
          ROUTED_SMALL + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                          'default_hooks.checkpoint.interval=2',
                          'model.indecision_weight=0.5'], nproc=2, port=29535)
    state = torch.load(work / 'iter_2.pth', map_location='cpu')['state_dict']
    assert int(state['generator.route_iter']) == 2
    import glob
    logged = []
    for path in glob.glob(str(work / '*' / 'vis_data' / 'scalars.json')):
        with open(path) as f:
            logged += [json.loads(line) for line in f]
    assert any('loss_compute' in v for v in logged)
    assert any(0 < v.get('loss_indecision', 0) <= 0.5 for v in logged)


def test_routing_on_a_pruned_model_trains_and_reports(demo_data, tmp_path):
    """Phase 1 over a pruned backbone (its channel spec and weights, as
    tools/prune.py writes them), then the report against that pruned model."""
    from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet

    from vsr_multigrid.engine.pruning import PrunedBasicVSRNet, generator_convs
    from vsr_multigrid.pruning import basicvsr as core
    from vsr_multigrid.pruning.spec import ChannelSpec
    dense = BasicVSRNet(mid_channels=16, num_blocks=2)
    kept = {name: list(range(0, size, 2))  # every other channel
            for name, size in core.channel_groups(generator_convs(dense, 2, 'basicvsr')).items()}
    spec = tmp_path / 'channel_spec.json'
    ChannelSpec('BasicVSRNet', 16, 2, 'aligned', kept).save(spec)
    torch.manual_seed(0)
    pruned = PrunedBasicVSRNet(str(spec))
    torch.save(dict(state_dict={f'generator.{k}': v for k, v in pruned.state_dict().items()}),
               tmp_path / 'pruned.pth')
    config = f'{REPO}/configs/routing/basicvsr_routed-pruned-phase1_tiny_demo.py'
    opts = [o for o in SMALL if not o.startswith('model.generator.')] + [
        f'model.generator.channel_spec={spec}', 'model.generator.routing.anneal_iters=2']
    work = tmp_path / 'phase1'
    train(config, work, demo_data, opts + [
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2', f'load_from={tmp_path}/pruned.pth'])
    state = torch.load(work / 'iter_2.pth', map_location='cpu')['state_dict']
    block = 'generator.forward_resblocks.main.2.1.conv2.weight'
    assert state[block].shape == (8, 8, 3, 3)  # the pruned width
    assert torch.equal(state[block], pruned.state_dict()[block[len('generator.'):]])
    out = tmp_path / 'report'
    proc = run_tool([sys.executable, 'tools/route_report.py', config, str(work / 'iter_2.pth'),
                     '--dense', str(tmp_path / 'pruned.pth'), '--thresholds', '0.5',
                     '--repeats', '0', '--out', str(out), '--cfg-options', *opts], demo_data)
    assert 'no replay at another width for a pruned generator' in proc.stdout
    rows = json.load(open(out / 'report.json'))['rows']
    assert {r['rule'] for r in rows} == {'dense', '0.5'}
    assert all(0 <= r['executed'] <= 1 and 0 <= r['reconstructed'] <= 1 for r in rows)
    # --repeats 0: quality only, nothing timed
    assert all('ms_per_frame' not in r and 'speedup' not in r for r in rows)
    assert '| - | - |' in proc.stdout
