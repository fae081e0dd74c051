"""SSL pruning and skip routing from a BasicSR option file: the archs and models
selectable by ``network_g.type``/``model_type``, BasicSR's own pipelines."""
import json
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import yaml

from conftest import REPO, run_tool
from test_basicsr_convert import _real_clip
from test_basicsr_multigrid import launch, options, write

from vsr_multigrid.compat.basicsr import import_basicsr

import_basicsr()

BASICSR = osp.join(REPO, 'configs', 'basicsr')
TRAIN = 'vsr_multigrid.basicsr_ext.train'


def _stock_and_clip(demo_data):
    from vsr_multigrid.basicsr_ext import build_arch, register
    register()
    torch.manual_seed(0)
    stock = build_arch('BasicVSR', num_feat=8, num_block=2).eval()
    with torch.no_grad():  # SPyNet's init predicts ~zero flow: make warping matter
        for param in stock.spynet.parameters():
            param.add_(0.02 * torch.randn_like(param))
    return stock, _real_clip(demo_data, frames=4)


@pytest.mark.parametrize('arch,kwargs', [('SSLBasicVSR', {}),
                                         ('RoutedBasicVSR', dict(routing=dict(threshold=0.0)))])
def test_arch_loads_a_stock_basicsr_checkpoint_and_computes_the_same(demo_data, tmp_path,
                                                                       arch, kwargs):
    from vsr_multigrid.basicsr_ext import build_arch
    stock, clip = _stock_and_clip(demo_data)
    net = build_arch(arch, num_feat=8, num_block=2, **kwargs).eval()
    net.load_state_dict(stock.state_dict(), strict=True)  # BasicSR's names, no plugin layers
    with torch.no_grad():  # scales at 1 / every gate open: the stock network
        assert (net(clip) - stock(clip)).abs().max() < 1e-5
    names, stock_names = set(net.state_dict()), set(stock.state_dict())
    assert stock_names < names and all(n.startswith(net.OWN) for n in names - stock_names)
    # Its own checkpoints round-trip, plugin layers included.
    with torch.no_grad():
        for value in net.state_dict(keep_vars=True).values():
            if value.is_floating_point():
                value.add_(0.01)
    again = build_arch(arch, num_feat=8, num_block=2, **kwargs)
    again.load_state_dict(net.state_dict(), strict=True)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in again.state_dict().items())
    with pytest.raises(ValueError, match='no known basicvsr layer'):
        again.load_state_dict({**stock.state_dict(), 'head.weight': torch.ones(1)})
    # spynet_path reads BasicSR's pretrained SpyNet file format.
    torch.save({'params': stock.spynet.state_dict()}, tmp_path / 'spynet.pth')
    seeded = build_arch(arch, num_feat=8, num_block=2, spynet_path=str(tmp_path / 'spynet.pth'))
    assert all(torch.equal(seeded.state_dict()[f'spynet.{k}'], v)
               for k, v in stock.spynet.state_dict().items())
    with pytest.raises(FileNotFoundError, match='network_g.spynet_path'):
        build_arch(arch, num_feat=8, num_block=2, spynet_path=str(tmp_path / 'none.pth'))


def test_iconvsr_archs_load_basicsr_iconvsr_at_its_published_width(demo_data, tmp_path):
    """EDVR, refill and BasicVSR layers under BasicSR's names, on a real clip;
    MMagic's EDVR is 64 wide, so another width fails naming the layer."""
    from vsr_multigrid.basicsr_ext import build_arch
    keys = dict(num_block=1, keyframe_stride=2, temporal_padding=2)
    torch.manual_seed(0)
    stock = build_arch('IconVSR', num_feat=64, **keys).eval()
    with torch.no_grad():  # make flow, alignment and refill all matter
        for param in stock.parameters():
            param.add_(0.01 * torch.randn_like(param))
    clip = _real_clip(demo_data)
    with torch.no_grad():
        expected = stock(clip)
    edvr = {k[len('edvr.'):]: v for k, v in stock.state_dict().items() if k.startswith('edvr.')}
    torch.save({'params': edvr}, tmp_path / 'edvr.pth')
    for arch, extra in (('SSLIconVSR', {}), ('RoutedIconVSR', dict(routing=dict(threshold=0.0)))):
        net = build_arch(arch, num_feat=64, **keys, **extra).eval()
        net.load_state_dict(stock.state_dict(), strict=True)
        with torch.no_grad():
            assert (net(clip) - expected).abs().max() < 1e-5, arch
        seeded = build_arch(arch, num_feat=64, **keys, edvr_path=str(tmp_path / 'edvr.pth'))
        assert all(torch.equal(seeded.state_dict()[f'edvr.{k}'], v) for k, v in edvr.items())
    narrow = build_arch('IconVSR', num_feat=16, **keys)
    with pytest.raises(RuntimeError, match=r'edvr\.'):
        build_arch('SSLIconVSR', num_feat=16, **keys).load_state_dict(narrow.state_dict())


def test_ssl_stage1_prune_temporal_finetune_and_test_in_basicsr(demo_data, tmp_path):
    """Stage 1 from a stock BasicSR checkpoint, tools/prune.py on the BasicSR
    checkpoint, stage 3 with Temporal Finetuning, BasicSR's test pipeline."""
    from vsr_multigrid.basicsr_ext import build_arch
    stock = build_arch('BasicVSR', num_feat=8, num_block=1)
    torch.save({'params': stock.state_dict()}, tmp_path / 'dense.pth')

    opt = options(osp.join(BASICSR, 'train_SSLBasicVSR_stage1_tiny_demo.yml'), demo_data,
                  'ssl_stage1', total_iter=6)
    opt['network_g']['sparsity'] = dict(ratio=0.5, select_iter=0, interval=1, delta=0.05,
                                        limit=0.5)
    opt['path']['pretrain_network_g'] = str(tmp_path / 'dense.pth')
    proc = launch(TRAIN, write(opt, tmp_path), tmp_path)
    log = proc.stdout + proc.stderr
    assert re.search(r'l_pix: \S+ l_sparsity: \S+', log), log[-2000:]
    assert 'LR multipliers: normal 1, flow 0.125, scales 10' in log
    stage1 = tmp_path / 'experiments' / 'ssl_stage1' / 'models' / 'net_g_latest.pth'
    saved = torch.load(stage1, weights_only=True)['params']
    assert 'backward_trunk.main.0.weight' in saved and 'upconv1.weight' in saved  # BasicSR names
    assert int(saved['ssl.iteration']) == 6 and bool(saved['ssl.has_picked'])

    out = tmp_path / 'pruned'
    typo = dict(opt, network_g=dict(opt['network_g'], num_feats=8))
    failed = run_tool([sys.executable, 'tools/prune.py', write(typo, tmp_path), str(stage1),
                       '--out', str(out)], demo_data, check=False)
    assert failed.returncode != 0
    assert "network_g key(s) ['num_feats'] unknown to SSLBasicVSR" in failed.stderr
    proc = run_tool([sys.executable, 'tools/prune.py', write(opt, tmp_path), str(stage1),
                     '--out', str(out)], demo_data)
    difference = float(re.search(r'max abs difference (\S+)', proc.stdout).group(1))
    assert difference <= 1e-3
    assert 'type: PrunedBasicVSR' in proc.stdout
    report = json.loads((out / 'prune_report.json').read_text())
    assert report['counts']['backward_stream'] < 8 and report['params_ratio'] < 1
    pruned_params = torch.load(out / 'pruned.pth', weights_only=True)['params']
    assert pruned_params['backward_trunk.main.0.weight'].shape[0] == \
        report['counts']['backward_stream']

    # A dense checkpoint in the pruned arch fails, naming the layer, strict or not.
    pruned_net = build_arch('PrunedBasicVSR', channel_spec=str(out / 'channel_spec.json'))
    with pytest.raises(ValueError, match=r'backward_trunk\.main\.0\.weight'):
        pruned_net.load_state_dict(stock.state_dict())
    with pytest.raises(ValueError, match='strict_load_g: false'):
        pruned_net.load_state_dict({'conv_hr.weight.ignore': torch.ones(1)}, strict=False)

    tf = options(osp.join(BASICSR, 'train_PrunedBasicVSR_finetune-tf_tiny_demo.yml'),
                 demo_data, 'ssl_tf', total_iter=2)
    del tf['network_g']['num_feat'], tf['network_g']['num_block']
    tf['network_g']['channel_spec'] = str(out / 'channel_spec.json')
    tf['path']['pretrain_network_g'] = str(out / 'pruned.pth')
    tf['train']['teacher'] = dict(path=str(stage1), network=dict(
        type='SSLBasicVSR', num_feat=8, num_block=1, stream_mode='aligned'))
    proc = launch(TRAIN, write(tf, tmp_path), tmp_path)
    assert re.search(r'l_pix: \S+ l_temporal: \S+', proc.stdout + proc.stderr)

    with open(osp.join(BASICSR, 'test_PrunedBasicVSR_tiny_demo.yml')) as f:
        test = yaml.safe_load(f)
    test['datasets']['test_1'].update(
        dataroot_gt=osp.join(demo_data, 'train_sharp'),
        dataroot_lq=osp.join(demo_data, 'train_sharp_bicubic', 'X4'),
        meta_info_file=osp.join(demo_data, 'meta_info_val.txt'))
    test['network_g']['channel_spec'] = str(out / 'channel_spec.json')
    test['path']['pretrain_network_g'] = str(
        tmp_path / 'experiments' / 'ssl_tf' / 'models' / 'net_g_latest.pth')
    proc = launch('vsr_multigrid.basicsr_ext.test', write(test, tmp_path), tmp_path)
    assert re.search(r'# psnr: [0-9.]+', proc.stdout + proc.stderr)


def test_routed_phase1_trains_only_the_estimators(demo_data, tmp_path):
    from vsr_multigrid.basicsr_ext import build_arch
    opt = options(osp.join(BASICSR, 'train_RoutedBasicVSR_phase1_tiny_demo.yml'), demo_data,
                  'routed_phase1', total_iter=4, fix_flow=2)  # fix_flow re-enables all at 2
    opt['train'].update(indecision_weight=0.5, oracle_weight=0.5)
    torch.manual_seed(0)
    start = build_arch('RoutedBasicVSR', num_feat=8, num_block=1,
                       routing=opt['network_g']['routing']).state_dict()
    torch.save({'params': start}, tmp_path / 'start.pth')  # a dense model with its routers
    opt['path']['pretrain_network_g'] = str(tmp_path / 'start.pth')
    # The dense start as the teacher: its network defaults to network_g unrouted.
    torch.save({'params': {k: v for k, v in start.items()
                           if '_router.' not in k and k != 'route_iter'}}, tmp_path / 'dense.pth')
    opt['train'].update(teacher=dict(path=str(tmp_path / 'dense.pth')), distill_weight=0.5)
    proc = launch(TRAIN, write(opt, tmp_path), tmp_path)
    assert re.search(r'l_pix: \S+ l_compute: \S+ l_indecision: \S+ l_oracle: \S+ '
                     r'l_distill: \S+ executed: \S+',
                     proc.stdout + proc.stderr)
    saved = torch.load(tmp_path / 'experiments' / 'routed_phase1' / 'models' / 'net_g_4.pth',
                       weights_only=True)['params']
    backbone = [k for k in start if '_router.' not in k and k != 'route_iter']
    assert all(torch.equal(saved[k], start[k]) for k in backbone)
    routers = [k for k in start if '_router.' in k]
    assert routers and not all(torch.equal(saved[k], start[k]) for k in routers)
    assert int(saved['route_iter']) == 4

    # The model needs its arch: a stock network_g fails before training.
    del opt['train']['teacher']
    opt['network_g'] = dict(type='BasicVSR', num_feat=8, num_block=1)
    opt['name'] = 'routed_stock_net'
    proc = launch(TRAIN, write(opt, tmp_path), tmp_path, check=False)
    assert proc.returncode != 0
    assert 'needs network_g.type RoutedBasicVSR, RoutedIconVSR or their RoutedPruned' in proc.stderr


def test_routed_pruned_arch_routes_a_pruned_basicsr_model(demo_data, tmp_path):
    """Skip routing on top of SSL in BasicSR: a pruned checkpoint (BasicSR
    names) loads, all gates open give the pruned network, a dense checkpoint
    is refused naming BasicSR's layer, and phase 1 trains it."""
    from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet

    from vsr_multigrid.basicsr_ext import build_arch
    from vsr_multigrid.engine.pruning import generator_convs
    from vsr_multigrid.pruning import basicvsr as core
    from vsr_multigrid.pruning.spec import ChannelSpec
    g = torch.Generator().manual_seed(0)
    groups = core.channel_groups(generator_convs(BasicVSRNet(mid_channels=8, num_blocks=1), 1,
                                                 'basicvsr'))
    kept = {name: sorted(torch.randperm(size, generator=g)[:max(1, size // 2)].tolist())
            for name, size in groups.items()}
    spec_path = tmp_path / 'channel_spec.json'
    spec_path.write_text(json.dumps(ChannelSpec('BasicVSRNet', 8, 1, 'aligned', kept).to_dict()))
    torch.manual_seed(0)
    pruned = build_arch('PrunedBasicVSR', channel_spec=str(spec_path)).eval()
    with torch.no_grad():  # blocks that matter, flow that warps
        for param in pruned.parameters():
            param.add_(0.05 * torch.randn_like(param))
    routing = dict(patch=16, threshold=0.0)
    routed = build_arch('RoutedPrunedBasicVSR', channel_spec=str(spec_path),
                        routing=routing).eval()
    routed.load_state_dict(pruned.state_dict(), strict=True)  # a pruned checkpoint: no routers
    clip = _real_clip(demo_data, frames=3)
    with torch.no_grad():
        expected = pruned(clip)
        assert (routed(clip) - expected).abs().max() < 1e-5 * expected.abs().max()
    assert set(routed.state_dict()) - set(pruned.state_dict()) and all(
        k.startswith(routed.OWN) for k in set(routed.state_dict()) - set(pruned.state_dict()))
    dense = build_arch('BasicVSR', num_feat=8, num_block=1)
    with pytest.raises(ValueError, match=r'backward_trunk\.main\.0\.weight'):
        routed.load_state_dict(dense.state_dict())
    with pytest.raises(ValueError, match='network_g.routing'):
        build_arch('RoutedPrunedBasicVSR', channel_spec=str(spec_path), routing=dict(pach=16))

    torch.save({'params': pruned.state_dict()}, tmp_path / 'pruned.pth')
    opt = options(osp.join(BASICSR, 'train_RoutedBasicVSR_phase1_tiny_demo.yml'), demo_data,
                  'routed_pruned_phase1', total_iter=2)
    opt['network_g'] = dict(type='RoutedPrunedBasicVSR', channel_spec=str(spec_path),
                            routing=opt['network_g']['routing'])
    opt['path']['pretrain_network_g'] = str(tmp_path / 'pruned.pth')
    proc = launch(TRAIN, write(opt, tmp_path), tmp_path)
    assert re.search(r'l_pix: \S+ l_compute: \S+ executed: \S+', proc.stdout + proc.stderr)
    saved = torch.load(tmp_path / 'experiments' / 'routed_pruned_phase1' / 'models' /
                       'net_g_latest.pth', weights_only=True)['params']
    assert saved['backward_trunk.main.0.weight'].shape[0] == len(kept['backward_stream'])
    assert all(torch.equal(saved[k], v) for k, v in pruned.state_dict().items())  # held
