"""Defects of the first multigrid release, each with the test that catches it.

LR curve and default ends, LR scheduler presence, sampler passes, Vimeo
(MirrorSequence) training, start-up data checks, checkpoint shapes, tools.
"""
import glob
import json
import os.path as osp
import shutil
import sys

import pytest
import torch

from conftest import REPO, SMALL, TINY_BASICVSR, error_text, run_tool, train

TINY_MG = osp.join(REPO, 'configs', 'multigrid', 'basicvsr_mg-vsr_tiny_demo.py')
MG_SMALL = SMALL + [
    'train_cfg.max_iters=12', 'train_cfg.val_interval=12',
    'default_hooks.checkpoint.interval=4', 'param_scheduler.stock.periods=[12]',
    'train_cfg.curriculum.max_batch_size=4',
]


# -- MultigridLR: the stock curve over the whole curriculum -----------------
def _optim_wrapper():
    from mmengine.optim import build_optim_wrapper
    model = torch.nn.ModuleDict(dict(spynet=torch.nn.Linear(2, 2), body=torch.nn.Linear(2, 2)))
    return build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-4),
        paramwise_cfg=dict(custom_keys={'spynet': dict(lr_mult=0.125)})))


def _stock_reference(stock_cfg, stock_iters):
    """LRs (body, spynet) of the real stock scheduler at every stock iteration."""
    from mmagic.registry import PARAM_SCHEDULERS
    optim = torch.optim.SGD([dict(params=[torch.nn.Parameter(torch.zeros(1))], lr=lr)
                             for lr in (2e-4, 2.5e-5)], lr=1.0)
    scheduler = PARAM_SCHEDULERS.build(stock_cfg, default_args=dict(optimizer=optim))
    values = [tuple(g['lr'] for g in optim.param_groups)]
    for _ in range(stock_iters):
        optim.step()
        scheduler.step()
        values.append(tuple(g['lr'] for g in optim.param_groups))
    return values


def _run_multigrid_lr(stock_cfg, schedule):
    """(body, spynet) LR MultigridLR sets at every curriculum iteration."""
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import PARAM_SCHEDULERS
    wrapper = _optim_wrapper()
    scheduler = PARAM_SCHEDULERS.build(
        dict(type='MultigridLR', stock={k: v for k, v in stock_cfg.items() if k != 'end'}),
        default_args=dict(optimizer=wrapper))
    scheduler.bind(schedule)
    lrs = []
    for _ in range(schedule.total_iters):
        groups = wrapper.param_groups
        body = next(g['lr'] for g in groups if abs(g['initial_lr'] - 2e-4) < 1e-12)
        spynet = next(g['lr'] for g in groups if abs(g['initial_lr'] - 2.5e-5) < 1e-12)
        lrs.append((body, spynet))
        wrapper.step()
        scheduler.step()
    return lrs


COSINE = dict(type='CosineRestartLR', by_epoch=False, periods=[100], restart_weights=[1],
              eta_min=1e-7)


@pytest.mark.parametrize('curriculum', [
    dict(preset='slowfast'),  # epoch_factor 1.5: the curve used to end 40% in
    dict(preset='vsr', budget='iterations'),
    dict(preset='vsr', warmup_iters=3),
    dict(preset='large_batch', batch_multiplier=2, warmup_iters=5),
], ids=lambda c: '-'.join(f'{v}' for v in c.values()))
def test_multigrid_lr_lays_stock_curve_over_the_whole_curriculum(curriculum):
    from vsr_multigrid.multigrid.schedule import Shape, build_schedule
    schedule = build_schedule(curriculum, Shape(4, 8, 128), stock_iters=100)
    reference = _stock_reference(COSINE, 100)
    lrs = _run_multigrid_lr(COSINE, schedule)
    # Expected, independently of MultigridLR: clips seen from the batch sizes,
    # their share of all clips mapped to a stock iteration, the stock
    # scheduler's own LR there, times the curriculum's factor.
    sizes = [schedule.shape_at(i).batch_size for i in range(schedule.total_iters)]
    total, seen, stock_iters = sum(sizes), 0, []
    for i, (body, spynet) in enumerate(lrs):
        stock_iter = (seen * 100) // total
        stock_iters.append(stock_iter)
        factor = schedule.lr_factor_at(i)
        assert body == pytest.approx(reference[stock_iter][0] * factor, rel=1e-9), i
        assert spynet == pytest.approx(reference[stock_iter][1] * factor, rel=1e-9), i
        seen += sizes[i]
    # The curve is walked once, to its end, over the whole run: the last
    # iteration sits in its final stretch and no iteration trains past it.
    assert stock_iters == sorted(stock_iters)
    assert 100 - 100 * max(sizes) / total - 1 <= stock_iters[-1] < 100


@pytest.mark.parametrize('stock', [
    dict(type='CosineAnnealingLR', by_epoch=False, eta_min=0.0),  # no T_max
    dict(type='LinearLR', by_epoch=False, start_factor=1.0, end_factor=0.01),  # no end
])
def test_stock_schedulers_without_end_get_the_stock_runs_length(stock):
    from vsr_multigrid.multigrid.schedule import Shape, build_schedule
    schedule = build_schedule(dict(preset='large_batch', batch_multiplier=2, warmup_iters=1),
                              Shape(4, 8, 128), stock_iters=60)
    # mmengine's runner gives a scheduler without `end` the run's max_iters.
    reference = _stock_reference(dict(stock, end=60), 60)
    lrs = _run_multigrid_lr(stock, schedule)
    assert [b for b, _ in lrs][1:] == pytest.approx(
        [reference[2 * i][0] * 2 for i in range(1, schedule.total_iters)], rel=1e-9)
    assert lrs[-1][0] < 0.2 * lrs[1][0]  # it decays; it used to stay flat


# -- the index stream ----------------------------------------------------
def test_default_sampler_draws_a_new_order_every_pass_and_resumes_exactly():
    from mmengine.dataset import DefaultSampler
    from vsr_multigrid.engine.samplers import MultigridBatchSampler
    from vsr_multigrid.multigrid.schedule import Shape, build_schedule
    schedule = build_schedule(dict(preset='large_batch', batch_multiplier=1),
                              Shape(2, 4, 64), stock_iters=30)

    def stream(start=0, seed=5):
        sampler = DefaultSampler(list(range(8)), shuffle=True, seed=seed)
        batch_sampler = MultigridBatchSampler(sampler, batch_size=2)
        batch_sampler.set_schedule(schedule)
        batch_sampler.set_start_iter(start)
        iterator = iter(batch_sampler)
        return [[i for i, _, _ in next(iterator)] for _ in range(30 - start)]

    indices = [i for batch in stream() for i in batch]
    passes = [indices[k:k + 8] for k in range(0, 56, 8)]
    assert all(sorted(p) == list(range(8)) for p in passes)
    assert len({tuple(p) for p in passes}) == len(passes)  # a new order each pass
    assert stream(start=11) == stream()[11:]
    # The seed of an interrupted run can be set on a fresh sampler (resume).
    sampler = DefaultSampler(list(range(8)), shuffle=True, seed=99)
    batch_sampler = MultigridBatchSampler(sampler, batch_size=2)
    batch_sampler.set_schedule(schedule)
    batch_sampler.set_seed(5)
    iterator = iter(batch_sampler)
    assert [[i for i, _, _ in next(iterator)] for _ in range(30)] == stream()


# -- the LR scheduler must be MultigridLR, and only it --------------------------
@pytest.mark.parametrize('param_scheduler, message', [
    ("dict(_delete_=True, type='CosineRestartLR', by_epoch=False, periods=[12], "
     "restart_weights=[1], eta_min=1e-7)", 'a multigrid config needs MultigridLR'),
    ("[dict(type='MultigridLR', by_epoch=False, stock=dict(type='CosineRestartLR', "
     "by_epoch=False, periods=[12], restart_weights=[1], eta_min=1e-7)), "
     "dict(type='LinearLR', by_epoch=False, start_factor=0.5, end=3)]",
     'MultigridLR must be the only LR scheduler'),
], ids=['stock-left-in', 'second-scheduler'])
def test_missing_or_doubled_lr_scheduler_refused(demo_data, tmp_path, param_scheduler,
                                                 message):
    config = tmp_path / 'mg_bad_lr.py'
    config.write_text(f"_base_ = {TINY_MG!r}\nparam_scheduler = {param_scheduler}\n")
    options = [o for o in MG_SMALL if not o.startswith('param_scheduler')]
    proc = train(str(config), tmp_path / 'bad', demo_data, options, check=False)
    assert proc.returncode != 0
    error = error_text(proc.stdout + proc.stderr)
    assert message in error and 'param_scheduler' in error, error
    assert not (tmp_path / 'bad' / 'curriculum' / 'rank0.jsonl').exists()


# -- Vimeo-90K (MirrorSequence doubles the frames) --------------------------
def _vimeo_options(root, generator):
    return generator + [
        'model.generator.spynet_pretrained=None', 'model.train_cfg.fix_iter=1',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=1',
        f'train_dataloader.dataset.data_root={root}',
        'train_dataloader.dataset.pipeline.3.gt_patch_size=64',
        f'val_dataloader.dataset.data_root={root}/Vid4',
        'train_cfg.max_iters=12', 'train_cfg.val_interval=12',
        'param_scheduler.stock.periods=[12]', 'default_hooks.checkpoint.interval=12',
        'default_hooks.checkpoint.out_dir=None',  # MMagic's writes to ./work_dirs
        'default_hooks.logger.interval=1', 'train_cfg.curriculum.max_batch_size=4',
        'train_cfg.curriculum.stage_fractions=[0.2,0.2,0.6]',
    ]


@pytest.mark.parametrize('config, generator', [
    ('basicvsr_mg-vsr_2xb4_vimeo90k-bi.py',
     ['model.generator.mid_channels=8', 'model.generator.num_blocks=1']),
    ('iconvsr_mg-vsr_2xb4_vimeo90k-bi.py',
     ['model.generator.mid_channels=64', 'model.generator.num_blocks=1',
      'model.generator.edvr_pretrained=None']),
], ids=['basicvsr', 'iconvsr'])
def test_vimeo_multigrid_configs_train(vimeo_data, tmp_path, config, generator):
    work = tmp_path / 'vimeo'
    train(osp.join(REPO, 'configs', 'multigrid', config), work, vimeo_data,
          _vimeo_options(vimeo_data, generator))
    schedule = json.load(open(work / 'curriculum' / 'schedule.json'))
    # Frames are counted as the stock config counts them (7 listed frames).
    assert schedule['base']['num_frames'] == 7
    with open(work / 'curriculum' / 'rank0.jsonl') as f:
        trace = [json.loads(line) for line in f]
    assert len(trace) == schedule['total_iters']
    assert {r['num_frames'] for r in trace} == {4, 5, 7}
    # The model saw every scheduled window mirrored: 2T frames.
    assert all(r['loaded']['frames'] == 2 * r['num_frames'] for r in trace)
    # Validated on the Vid4-style clips (MMagic's own config: no progress file).
    scalars = glob.glob(str(work / '*' / 'vis_data' / 'scalars.json'))
    assert any('"PSNR"' in open(path).read() for path in scalars)
    assert osp.isfile(work / f"iter_{schedule['total_iters']}.pth")


# -- the data, checked at start-up ------------------------------------------
def _copy(demo_data, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(demo_data, root)
    return root


def test_missing_frame_refused_before_training(demo_data, tmp_path):
    root = _copy(demo_data, tmp_path)
    (root / 'train_sharp_bicubic' / 'X4' / '001' / '00000005.png').unlink()
    proc = train(TINY_MG, tmp_path / 'run', str(root), MG_SMALL, check=False)
    assert proc.returncode != 0
    error = error_text(proc.stdout + proc.stderr)
    assert osp.join('X4', '001', '00000005.png') in error, error
    assert not (tmp_path / 'run' / 'curriculum' / 'rank0.jsonl').exists()


def test_truncated_frame_is_named_and_found_by_the_verify_tool(demo_data, tmp_path):
    root = _copy(demo_data, tmp_path)
    frame = root / 'train_sharp' / '000' / '00000003.png'
    frame.write_bytes(frame.read_bytes()[:200])  # truncated PNG
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmagic')
    dataset = DATASETS.build(dict(
        type='MultigridFramesDataset', data_root=str(root),
        data_prefix=dict(img='train_sharp_bicubic/X4', gt='train_sharp'),
        ann_file='meta_info_train.txt', num_input_frames=12,
        pipeline=[dict(type='GenerateSegmentIndices', interval_list=[1]),
                  dict(type='LoadImageFromFile', key='img', channel_order='rgb'),
                  dict(type='LoadImageFromFile', key='gt', channel_order='rgb')]))
    with pytest.raises(ValueError, match=r'cannot decode frame .*000/00000003\.png'):
        dataset[0]
    proc = run_tool([sys.executable, 'tools/verify_dataset.py', TINY_MG], str(root),
                    check=False)
    assert proc.returncode == 1
    assert f'undecodable: {frame}' in proc.stdout
    proc = run_tool([sys.executable, 'tools/verify_dataset.py', TINY_MG], demo_data)
    assert proc.stdout.strip().endswith('OK')


# -- checkpoints of another width -------------------------------------------
def test_checkpoint_of_another_width_refused_for_load_from_and_resume(demo_data, tmp_path):
    narrow = tmp_path / 'narrow'
    opts = SMALL + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                    'default_hooks.checkpoint.interval=2']
    train(TINY_BASICVSR, narrow, demo_data, opts)
    wider = [o.replace('mid_channels=8', 'mid_channels=12') for o in opts]
    for extra, resume in (([f'load_from={narrow}/iter_2.pth'], False), ([], True)):
        work = narrow if resume else tmp_path / 'wide'
        longer = [o.replace('max_iters=2', 'max_iters=4') for o in wider]
        proc = train(TINY_BASICVSR, work, demo_data, longer + extra, resume=resume,
                     check=False)
        assert proc.returncode != 0
        error = error_text(proc.stdout + proc.stderr)
        assert 'the checkpoint does not fit the model: generator.' in error, error
        assert 'mid_channels' in error
    assert not osp.exists(narrow / 'iter_4.pth')


# -- tools ------------------------------------------------------------------
def test_print_schedule_with_cfg_options_and_without_data(demo_data, tmp_path):
    proc = run_tool([sys.executable, 'tools/print_schedule.py', TINY_MG,
                     '--cfg-options', 'train_cfg.max_iters=300',
                     'train_cfg.curriculum.stage_fractions=[0.5,0.25,0.25]'], demo_data)
    assert 'stock_iters=300' in proc.stdout
    proc = run_tool([sys.executable, 'tools/print_schedule.py',
                     osp.join(REPO, 'configs', 'multigrid', 'basicvsr_mg-vsr_2xb4_reds4.py'),
                     '--frame-size', '720', '1280'], str(tmp_path / 'nowhere'))
    assert 'base (B, T, S)=(4, 15, 256)' in proc.stdout
    proc = run_tool([sys.executable, 'tools/print_schedule.py',
                     osp.join(REPO, 'configs', 'multigrid', 'basicvsr_mg-vsr_2xb4_reds4.py'),
                     '--frame-size', '128', '128'], str(tmp_path / 'nowhere'), check=False)
    assert proc.returncode != 0 and 'exceeds max_crop=128' in error_text(proc.stderr)


def test_flow_multiple_is_read_from_the_generator_and_the_tool_prints_it(demo_data):
    from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet
    from mmagic.models.editors.iconvsr.iconvsr_net import IconVSRNet
    from vsr_multigrid.engine.loops import flow_multiple, generator_flow_multiple
    net = BasicVSRNet(mid_channels=4, num_blocks=1, spynet_pretrained=None)
    assert flow_multiple(net) == 32
    assert generator_flow_multiple(IconVSRNet) == 32
    assert generator_flow_multiple(type('Tuned', (BasicVSRNet,), {})) == 32
    assert flow_multiple(torch.nn.Conv2d(3, 3, 3)) is None
    # The default tiny curriculum crops LR 16 and 24 px: the table says so.
    out = run_tool([sys.executable, 'tools/print_schedule.py', TINY_MG], demo_data).stdout
    assert 'S64 (LR 16 px) is resized to LR 32 px by the flow network' in out
    out = run_tool([sys.executable, 'tools/print_schedule.py', TINY_MG, '--cfg-options',
                    'train_cfg.curriculum.flow_multiple=8'], demo_data).stdout
    assert 'flow network' not in out and 'S64-T4' in out
