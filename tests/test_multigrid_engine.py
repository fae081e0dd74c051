"""Multigrid in the real mmengine runner: sampler, dataset, LR, 2 ranks, resume."""
import glob
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO, SMALL, error_text, run_tool, train

TINY_MG = osp.join(REPO, 'configs', 'multigrid', 'basicvsr_mg-vsr_tiny_demo.py')
# A short curriculum on the test data (GT frames 136 px high): 3 stages.
MG_SMALL = SMALL + [
    'train_cfg.max_iters=12', 'train_cfg.val_interval=12',
    'default_hooks.checkpoint.interval=4', 'param_scheduler.stock.periods=[12]',
    "train_cfg.curriculum.crop_factors=[0.5,0.75,1.0]",
    'train_cfg.curriculum.max_batch_size=4',
]


def _trace(work_dir, rank):
    by_iter = {}
    with open(osp.join(work_dir, 'curriculum', f'rank{rank}.jsonl')) as f:
        for line in f:
            record = json.loads(line)
            by_iter[record['iter']] = record
    return [by_iter[k] for k in sorted(by_iter)]


def _key(trace):
    return [(r['iter'], r['batch_size'], r['num_frames'], r['crop_size'],
             round(r['lr'], 15)) for r in trace]


# -- units on the real mmagic dataset / mmengine sampler -------------------
def _schedule(base_batch=2):
    from vsr_multigrid.multigrid.schedule import Shape, build_schedule
    return build_schedule(dict(preset='vsr', max_batch_size=4),
                          Shape(base_batch, 4, 64), stock_iters=12)


def _sampler(dataset_len, rank, world_size, seed=3):
    from mmengine.dataset import InfiniteSampler

    class _Data:
        def __len__(self):
            return dataset_len

    sampler = InfiniteSampler(_Data(), shuffle=True, seed=seed)
    sampler.rank, sampler.world_size = rank, world_size
    sampler.indices = sampler._indices_of_rank()
    return sampler


def test_batch_sampler_same_shapes_on_two_ranks_and_after_resume():
    from vsr_multigrid.engine.samplers import MultigridBatchSampler
    schedule = _schedule()
    ranks = []
    for rank in (0, 1):
        batch_sampler = MultigridBatchSampler(_sampler(20, rank, 2), batch_size=2)
        batch_sampler.set_schedule(schedule)
        iterator = iter(batch_sampler)
        ranks.append([next(iterator) for _ in range(schedule.total_iters)])
    for step, (b0, b1) in enumerate(zip(*ranks)):
        shape = schedule.shape_at(step)
        assert len(b0) == len(b1) == shape.batch_size
        assert {(t, s) for _, t, s in b0 + b1} == {(shape.num_frames, shape.crop_size)}
    # Ranks draw disjoint shards of the same permutation.
    first0 = {i for i, _, _ in ranks[0][0]}
    first1 = {i for i, _, _ in ranks[1][0]}
    assert not first0 & first1
    # Resume at step 5 in a fresh process-like sampler: identical batches.
    resumed = MultigridBatchSampler(_sampler(20, 0, 2), batch_size=2)
    resumed.set_schedule(schedule)
    resumed.set_start_iter(5)
    iterator = iter(resumed)
    assert [next(iterator) for _ in range(schedule.total_iters - 5)] == ranks[0][5:]


def test_batch_sampler_rejects_wrong_base_batch():
    from vsr_multigrid.engine.samplers import MultigridBatchSampler
    batch_sampler = MultigridBatchSampler(_sampler(10, 0, 1), batch_size=3)
    with pytest.raises(ValueError, match='the stock batch size is 3'):
        batch_sampler.set_schedule(_schedule(base_batch=2))
    with pytest.raises(RuntimeError, match='no schedule'):
        next(iter(MultigridBatchSampler(_sampler(10, 0, 1), batch_size=2)))


def _dataset(demo_data, **kwargs):
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmagic')
    return DATASETS.build(dict(
        type='MultigridFramesDataset',
        metainfo=dict(dataset_type='reds_reds4', task_name='vsr'),
        data_root=demo_data,
        data_prefix=dict(img='train_sharp_bicubic/X4', gt='train_sharp'),
        ann_file='meta_info_train.txt', depth=1, **kwargs))


REDS_PIPELINE = [
    dict(type='GenerateSegmentIndices', interval_list=[1]),
    dict(type='LoadImageFromFile', key='img', channel_order='rgb'),
    dict(type='LoadImageFromFile', key='gt', channel_order='rgb'),
    dict(type='SetValues', dictionary=dict(scale=4)),
    dict(type='PairedRandomCrop', gt_patch_size=96),
    dict(type='PackInputs')
]


def test_reds_style_dataset_honours_frames_and_crop(demo_data):
    dataset = _dataset(demo_data, num_input_frames=6, pipeline=REDS_PIPELINE)
    assert (dataset.base_num_frames, dataset.base_crop_size, dataset.scale) == (6, 96, 4)
    assert dataset.min_frame_side() == 136
    stock = dataset[0]
    assert stock['inputs'].shape == (6, 3, 24, 24)
    sample = dataset[(1, 3, 64)]
    assert sample['inputs'].shape == (3, 3, 16, 16)
    assert sample['data_samples'].gt_img.shape == (3, 3, 64, 64)
    # The stock crop is untouched for plain indices afterwards.
    assert dataset[1]['inputs'].shape == (6, 3, 24, 24)
    with pytest.raises(ValueError, match='has 12 frames but the curriculum asks for 13'):
        dataset[(0, 13, 64)]


def test_vimeo_style_dataset_subsamples_before_mirror(demo_data):
    frames = [f'{i:08d}.png' for i in range(7)]
    pipeline = [
        dict(type='LoadImageFromFile', key='img', channel_order='rgb'),
        dict(type='LoadImageFromFile', key='gt', channel_order='rgb'),
        dict(type='SetValues', dictionary=dict(scale=4)),
        dict(type='PairedRandomCrop', gt_patch_size=64),
        dict(type='MirrorSequence', keys=['img', 'gt']),
        dict(type='PackInputs')
    ]
    dataset = _dataset(demo_data, num_input_frames=7, fixed_seq_len=7,
                       load_frames_list=dict(img=frames, gt=frames), pipeline=pipeline)
    assert dataset.base_num_frames == 7
    assert dataset[0]['inputs'].shape == (14, 3, 16, 16)
    sample = dataset[(0, 4, 32)]
    assert sample['inputs'].shape == (8, 3, 8, 8)  # 4 frames mirrored
    assert sample['data_samples'].gt_img.shape == (8, 3, 32, 32)
    # Plain indices keep the whole frame list (no shape, no sub-sampling).
    paths = dataset.get_data_info(0)
    assert len(paths['img_path']) == 7


def test_multigrid_lr_rejects_epoch_based_stock():
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import PARAM_SCHEDULERS
    optim = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match='by_epoch=False'):
        PARAM_SCHEDULERS.build(dict(type='MultigridLR', stock=dict(type='CosineAnnealingLR', T_max=3)),
                               default_args=dict(optimizer=optim))


# -- the real runner ----------------------------------------------------
def test_two_ranks_same_shape_every_step(demo_data, tmp_path):
    work = tmp_path / 'mg_dist'
    proc = train(TINY_MG, work, demo_data, MG_SMALL, nproc=2, port=29541)
    # 9 one-iteration phases overshoot a 12-iteration budget, and it says so.
    assert 'the budget is too small for its phases' in proc.stdout + proc.stderr
    rank0, rank1 = _trace(work, 0), _trace(work, 1)
    assert len(rank0) == len(rank1) == json.load(
        open(work / 'curriculum' / 'schedule.json'))['total_iters']
    # The shapes of the tensors each rank really received (not the schedule
    # it was given): equal on both ranks at every step, and as scheduled.
    loaded0 = [(r['loaded']['batch'], r['loaded']['frames'], r['loaded']['gt']) for r in rank0]
    loaded1 = [(r['loaded']['batch'], r['loaded']['frames'], r['loaded']['gt']) for r in rank1]
    assert loaded0 == loaded1
    assert loaded0 == [(r['batch_size'], r['num_frames'], [r['crop_size']] * 2) for r in rank0]
    assert all(r['loaded']['lr'] == [r['crop_size'] // 4] * 2 for r in rank0 + rank1)
    assert len({(r['num_frames'], r['crop_size']) for r in rank0}) > 3
    # The ranks drew different samples (disjoint shards of one permutation).
    assert [r['loaded']['keys'] for r in rank0] != [r['loaded']['keys'] for r in rank1]
    with open(work / 'progress.jsonl') as f:
        assert 'PSNR' in json.loads(f.readlines()[-1])['metrics']
    # The curriculum plot tool reads the same trace.
    run_tool([sys.executable, 'tools/plot_curriculum.py', str(work)], demo_data)
    assert osp.getsize(work / 'curriculum.png') > 1000


def _clips(trace):
    """Clip of every sample of every step (the sample indices drawn)."""
    return [[key.rsplit('/', 1)[0] for key in r['loaded']['keys']] for r in trace]


def _progress(work_dir):
    with open(osp.join(work_dir, 'progress.jsonl')) as f:
        return {r['iter']: r['samples_seen'] for r in map(json.loads, f)}


def test_kill_and_resume_continues_identical_curriculum(demo_data, tmp_path):
    # Default seed handling (randomness.seed=None): every start draws a new
    # seed, so the resumed run must take the interrupted run's from the
    # checkpoint to draw the same clips.
    options = MG_SMALL + ['train_cfg.max_iters=24', 'param_scheduler.stock.periods=[24]',
                          'train_cfg.val_interval=6']
    killed = tmp_path / 'killed'
    env = dict(os.environ, VSR_DEMO_DATA=demo_data, OMP_NUM_THREADS='1',
               PYTHONPATH=REPO)
    proc = subprocess.Popen(
        [sys.executable, 'tools/train.py', TINY_MG, '--work-dir', str(killed),
         '--cfg-options', *options], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    # mmengine names the newest complete checkpoint in `last_checkpoint`.
    while not (killed / 'last_checkpoint').exists():
        assert proc.poll() is None and time.time() < deadline, 'run ended before a checkpoint'
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run, loader workers included
    proc.wait()
    checkpoint = open(killed / 'last_checkpoint').read().strip()
    seed = torch.load(checkpoint, map_location='cpu')['meta']['seed']
    done_before_kill = len(_trace(killed, 0))

    # The uninterrupted reference draws with the killed run's seed.
    full = tmp_path / 'full'
    train(TINY_MG, full, demo_data, options + [f'randomness.seed={seed}'])
    reference = _trace(full, 0)
    assert done_before_kill < len(reference), 'kill came too late to test resume'

    proc = train(TINY_MG, killed, demo_data, options, resume=True)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter:' in log
    assert 'Advance dataloader' not in log  # no decoding of skipped batches
    assert 'sampler skips the consumed indices' in log
    resumed = _trace(killed, 0)
    assert _key(resumed) == _key(reference)
    assert _clips(resumed) == _clips(reference)
    # Progress counters continue exactly: the checkpoint holds the counters
    # of the iteration it was saved at (not of the one before).
    assert _progress(killed) == _progress(full)


def test_resume_refuses_another_curriculum(demo_data, tmp_path):
    work = tmp_path / 'run'
    options = MG_SMALL + ['default_hooks.checkpoint.interval=-1', 'train_cfg.val_interval=-1']
    train(TINY_MG, work, demo_data, options)
    # interval=-1 is mmengine's "never": only the final checkpoint, and
    # validation only at the end (not at every iteration).
    assert [osp.basename(p) for p in glob.glob(str(work / 'iter_*.pth'))] == [
        f'iter_{len(_trace(work, 0))}.pth']
    with open(work / 'progress.jsonl') as f:
        assert len(f.readlines()) == 1
    longer = [o.replace('max_iters=12', 'max_iters=16') for o in options] + [
        'param_scheduler.stock.periods=[16]']
    proc = train(TINY_MG, work, demo_data, longer, resume=True, check=False)
    assert proc.returncode != 0
    assert 'trained with another curriculum' in error_text(proc.stdout + proc.stderr)


@pytest.mark.parametrize('options, message', [
    (['train_cfg.curriculum.crop_factors=[0.5,1.0,1.5]'], "'crop_factors': expected"),
    (['train_cfg.curriculum.unknown_key=1'], "'unknown_key' not allowed"),
    (['train_dataloader.dataset.type=BasicFramesDataset'],
     "needs train_dataloader.dataset.type='MultigridFramesDataset'"),
    (['train_dataloader.batch_sampler=None'], "needs train_dataloader.batch_sampler="),
    (['train_cfg.curriculum.preset=nonsense'], "got 'nonsense'"),
    (['train_dataloader.dataset.pipeline.4.gt_patch_size=160'], 'exceeds max_crop=136'),
    (['train_dataloader.dataset.pipeline.4.gt_patch_size=126'],
     'gt_patch_size) is not divisible by the scale 4'),
])
def test_bad_curriculum_configs_fail_before_training(demo_data, tmp_path, options, message):
    proc = train(TINY_MG, tmp_path / 'bad', demo_data, MG_SMALL + options, check=False)
    assert proc.returncode != 0
    error = error_text(proc.stdout + proc.stderr)
    assert message in error, error
    assert not (tmp_path / 'bad' / 'curriculum' / 'rank0.jsonl').exists()
