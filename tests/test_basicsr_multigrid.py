"""Multigrid from a BasicSR option file: BasicSR's own pipeline, real LMDB, two processes."""
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
import torch
import yaml

from conftest import REPO

from vsr_multigrid.compat.basicsr import import_basicsr

import_basicsr()  # BasicSR is part of the environment: a missing one fails here

TINY = osp.join(REPO, 'configs', 'basicsr', 'train_BasicVSR_tiny_demo.yml')
TINY_MG = osp.join(REPO, 'configs', 'basicsr', 'train_BasicVSR_mg-vsr-cpu_tiny_demo.yml')


def options(path, data, name, **train):
    """A shipped option file on the test data, test-sized (8 channels, 1 block)."""
    with open(path) as f:
        opt = yaml.safe_load(f)
    opt['name'] = name
    d = opt['datasets']['train']
    d.update(dataroot_gt=osp.join(data, 'train_sharp.lmdb'),
             dataroot_lq=osp.join(data, 'train_sharp_bicubic_X4.lmdb'),
             meta_info_file=osp.join(data, 'meta_info_train.txt'), num_worker_per_gpu=1)
    v = opt['datasets']['val']
    v.update(dataroot_gt=osp.join(data, 'train_sharp'),
             dataroot_lq=osp.join(data, 'train_sharp_bicubic', 'X4'),
             meta_info_file=osp.join(data, 'meta_info_val.txt'))
    opt['network_g'].update(num_feat=8, num_block=1)
    opt['train'].update(**{'total_iter': 12, 'fix_flow': 2, **train})
    opt['train']['scheduler']['periods'] = [opt['train']['total_iter']]
    opt['val']['val_freq'] = 100
    opt['logger'].update(print_freq=1, save_checkpoint_freq=4)
    return opt


def write(opt, folder):
    path = osp.join(folder, f"{opt['name']}.yml")
    with open(path, 'w') as f:
        yaml.safe_dump(opt, f, sort_keys=False)
    return path


def launch(module, option_file, cwd, nproc=1, extra=(), port=29561, check=True):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
               PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
    if nproc == 1:
        args = [sys.executable, '-m', module, '-opt', option_file, *extra]
    else:
        args = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}',
                f'--master_port={port}', '-m', module, '-opt', option_file,
                '--launcher', 'pytorch', *extra]
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-6000:]}')
    return proc


def trace(folder, rank):
    with open(osp.join(folder, 'curriculum', f'rank{rank}.jsonl')) as f:
        return [json.loads(line) for line in f]


def test_curriculum_lr_replays_basicsr_schedulers():
    from basicsr.models.lr_scheduler import CosineAnnealingRestartLR
    from vsr_multigrid.basicsr_ext.train import CurriculumLR
    from vsr_multigrid.multigrid.schedule import Shape, build_schedule

    def optimizer():
        return torch.optim.Adam([dict(params=[torch.nn.Parameter(torch.zeros(1))], lr=1e-3),
                                 dict(params=[torch.nn.Parameter(torch.zeros(1))], lr=1.25e-4)])

    stock_cfg = dict(type='CosineAnnealingRestartLR', periods=[40], restart_weights=[1],
                     eta_min=1e-7)
    base = Shape(batch_size=2, num_frames=4, crop_size=64)
    # The stock shape as a one-phase curriculum: exactly the stock LR, step by step.
    same = build_schedule(dict(preset='phases', phases=[(1.0, 2, 4, 64)]), base, 40)
    stock_opt, mg_opt = optimizer(), optimizer()
    stock = CosineAnnealingRestartLR(stock_opt, **{k: v for k, v in stock_cfg.items()
                                                   if k != 'type'})
    curriculum = CurriculumLR(mg_opt, same, stock_cfg)
    for _ in range(40):
        assert curriculum.get_last_lr() == pytest.approx(
            [g['lr'] for g in stock_opt.param_groups], rel=1e-12)
        stock.step()
        curriculum.step()
    # Twice the batch: half the iterations, twice the LR after a warm-up, the
    # stock curve in clips seen; and a resumed scheduler continues it.
    large = build_schedule(dict(preset='large_batch', warmup_iters=2), base, 40)
    mg_opt = optimizer()
    curriculum = CurriculumLR(mg_opt, large, stock_cfg)
    lrs = [curriculum.get_last_lr()]
    for _ in range(large.total_iters - 1):
        curriculum.step()
        lrs.append(curriculum.get_last_lr())
    assert large.total_iters == 20
    assert lrs[0][0] < lrs[2][0] == pytest.approx(2e-3 * (1 + torch.cos(
        torch.tensor(torch.pi * 4 / 40)).item()) / 2, rel=1e-3)
    assert lrs[0][1] / lrs[0][0] == pytest.approx(0.125)
    resumed = CurriculumLR(optimizer(), large, stock_cfg)
    resumed.load_state_dict(dict(last_epoch=10))
    assert resumed.get_last_lr() == pytest.approx(lrs[10], rel=1e-12)


def test_dataset_serves_curriculum_shapes_from_lmdb(demo_data, tmp_path):
    from vsr_multigrid.basicsr_ext import register
    register()
    from basicsr.data import build_dataset
    opt = options(TINY_MG, demo_data, 'dataset')['datasets']['train']
    opt.update(phase='train', scale=4)
    dataset = build_dataset(opt)
    assert dataset.base_num_frames == 4 and dataset.base_crop_size == 136
    sample = dataset[(0, 3, 64)]
    assert tuple(sample['lq'].shape) == (3, 3, 16, 16)
    assert tuple(sample['gt'].shape) == (3, 3, 64, 64)
    with pytest.raises(TypeError, match='vsr_multigrid.basicsr_ext.train'):
        dataset[0]  # BasicSR's own train.py: refused, not trained at the stock shape
    stock = build_dataset({k: v for k, v in opt.items() if k != 'multigrid'})
    assert tuple(stock[0]['gt'].shape) == (4, 3, 136, 136)
    # Clips shorter than REDS' 100 frames: late starts are redrawn inside the clip.
    last = max(range(len(stock)), key=lambda i: int(stock.keys[i].split('/')[1]))
    assert tuple(stock[last]['lq'].shape) == (4, 3, 34, 34)
    dataset.check_frames()
    # A frame missing from an LMDB is named before training.
    lmdb = tmp_path / 'gt.lmdb'
    shutil.copytree(opt['dataroot_gt'], lmdb)
    lines = (lmdb / 'meta_info.txt').read_text().splitlines()
    assert lines[0].startswith('000/00000000.png')
    (lmdb / 'meta_info.txt').write_text('\n'.join(lines[1:]) + '\n')
    broken = build_dataset(dict(opt, dataroot_gt=str(lmdb)))
    with pytest.raises(FileNotFoundError, match='000/00000000'):
        broken.check_frames()
    with pytest.raises(ValueError, match='datasets.train.multigrid'):
        build_dataset(dict(opt, multigrid='vsr'))


def test_two_process_lmdb_run_resumes_the_same_curriculum(demo_data, tmp_path):
    """torchrun, 2 processes (gloo), LMDB; killed after iteration 4 and resumed."""
    opt = options(TINY_MG, demo_data, 'mg_dist')
    option_file = write(opt, str(tmp_path))
    full = tmp_path / 'full'
    full.mkdir()
    proc = launch('vsr_multigrid.basicsr_ext.train', option_file, str(full), nproc=2)
    assert 'Multigrid curriculum (computed before training)' in proc.stderr + proc.stdout
    root = full / 'experiments' / 'mg_dist'
    ranks = [trace(root, r) for r in (0, 1)]
    for records in ranks:
        # keep_volume: false, clip length only: T/2, 3T/4, T for a third each.
        assert [r['num_frames'] for r in records] == [2] * 4 + [3] * 4 + [4] * 4
        assert all(r['batch_size'] == 2 and r['crop_size'] == 136 for r in records)
    assert ranks[0][0]['lr'] == pytest.approx(1e-3) and ranks[0][-1]['lr'] < 1e-4
    # EnlargedSampler shards: the ranks draw different samples.
    assert [r['clips'] for r in ranks[0]] != [r['clips'] for r in ranks[1]]
    assert (root / 'models' / 'net_g_12.pth').is_file()
    # Interrupted after the checkpoint of iteration 4: what a killed run leaves.
    interrupted = tmp_path / 'interrupted'
    shutil.copytree(full, interrupted)
    run = interrupted / 'experiments' / 'mg_dist'
    for folder, suffix in (('training_states', '.state'), ('models', '.pth')):
        for path in (run / folder).iterdir():
            stem = path.name[:-len(suffix)].rsplit('_', 1)[-1]
            if not stem.isdigit() or int(stem) > 4:
                path.unlink()
    for rank in (0, 1):
        kept = [r for r in trace(run, rank) if r['iter'] < 4]
        (run / 'curriculum' / f'rank{rank}.jsonl').write_text(
            ''.join(json.dumps(r) + '\n' for r in kept))
    launch('vsr_multigrid.basicsr_ext.train', option_file, str(interrupted), nproc=2,
           extra=['--auto_resume'], port=29563)
    for rank in (0, 1):
        resumed = trace(run, rank)
        assert [r['iter'] for r in resumed] == list(range(12))
        for a, b in zip(resumed, ranks[rank]):
            assert (a['num_frames'], a['crop_size'], a['clips']) == (
                b['num_frames'], b['crop_size'], b['clips'])
            assert a['lr'] == pytest.approx(b['lr'], rel=1e-9)
    # Resuming into another curriculum is refused.
    other = dict(opt, datasets=dict(opt['datasets'], train=dict(
        opt['datasets']['train'], multigrid=dict(opt['datasets']['train']['multigrid'],
                                                 frame_factors=[0.75, 1.0]))))
    (tmp_path / 'other').mkdir()
    proc = launch('vsr_multigrid.basicsr_ext.train', write(other, str(tmp_path / 'other')),
                  str(interrupted), extra=['--auto_resume'], check=False)
    assert proc.returncode != 0
    assert 'resume: the run was trained with another curriculum' in proc.stderr


def test_stock_options_unchanged_and_bad_multigrid_options_fail_early(demo_data, tmp_path):
    from vsr_multigrid.basicsr_ext.train import _MultigridRun
    assert _MultigridRun  # the entry point imports without BasicSR errors
    # Stock options (no multigrid block) train as BasicSR trains them.
    stock = options(TINY, demo_data, 'stock', total_iter=2)
    stock['logger']['save_checkpoint_freq'] = 2
    launch('vsr_multigrid.basicsr_ext.train', write(stock, str(tmp_path)), str(tmp_path))
    assert (tmp_path / 'experiments' / 'stock' / 'models' / 'net_g_2.pth').is_file()
    assert not (tmp_path / 'experiments' / 'stock' / 'curriculum').exists()
    # BasicSR's test pipeline through the plugin's entry point scores it.
    with open(osp.join(REPO, 'configs', 'basicsr', 'test_BasicVSR_tiny_demo.yml')) as f:
        test = yaml.safe_load(f)
    test['datasets']['test_1'].update(options(TINY, demo_data, 'x')['datasets']['val'])
    test['network_g'].update(num_feat=8, num_block=1)
    test['path']['pretrain_network_g'] = str(
        tmp_path / 'experiments' / 'stock' / 'models' / 'net_g_latest.pth')
    proc = launch('vsr_multigrid.basicsr_ext.test', write(test, str(tmp_path)), str(tmp_path))
    assert re.search(r'# psnr: [0-9.]+', proc.stdout + proc.stderr), proc.stderr[-2000:]
    cases = [
        (dict(crop_factors=[0.5, 1.0], stage_fractions=[0.5, 0.5]),
         "is too small for BasicSR's SpyNet"),
        (dict(stage_fraction=[1.0]), "cfg key(s) 'stage_fraction' not allowed"),
    ]
    for index, (keys, message) in enumerate(cases):
        opt = options(TINY_MG, demo_data, f'bad{index}')
        opt['datasets']['train']['multigrid'].update(keys)
        proc = launch('vsr_multigrid.basicsr_ext.train', write(opt, str(tmp_path)),
                      str(tmp_path), check=False)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr[-2000:]
        assert 'Start training' not in proc.stderr + proc.stdout


def vimeo_options(data, name):
    with open(osp.join(REPO, 'configs', 'basicsr', 'train_BasicVSR_Vimeo90K_BIx4_mg-vsr.yml')) as f:
        opt = yaml.safe_load(f)
    opt.update(name=name, num_gpu='auto')
    d = opt['datasets']['train']
    d.update(dataroot_gt=osp.join(data, 'GT'), dataroot_lq=osp.join(data, 'BIx4'),
             meta_info_file=osp.join(data, 'meta_info_Vimeo90K_train_GT.txt'),
             gt_size=136, num_worker_per_gpu=0, batch_size_per_gpu=2)
    # Clip length only: crops below GT 136 would not pass BasicSR's SpyNet here.
    d['multigrid'].update(crop_factors=[1.0], stage_fractions=[1.0], keep_volume=False)
    v = opt['datasets']['val']
    v.update(dataroot_gt=osp.join(data, 'Vid4', 'GT'), dataroot_lq=osp.join(data, 'Vid4', 'BIx4'),
             meta_info_file=osp.join(data, 'Vid4', 'meta_info_Vid4_GT.txt'))
    opt['network_g'].update(num_feat=8, num_block=1, spynet_path=None)
    opt['train'].update(total_iter=6, fix_flow=0, ema_decay=0)
    opt['train']['scheduler']['periods'] = [6]
    opt['val']['val_freq'] = 100
    opt['logger'].update(print_freq=1, save_checkpoint_freq=6, use_tb_logger=False)
    return opt


def test_vimeo_windows_flip_and_a_run(vimeo_data, tmp_path):
    from vsr_multigrid.basicsr_ext import register
    register()
    from basicsr.data import build_dataset
    opt = dict(vimeo_options(vimeo_data, 'vimeo')['datasets']['train'], phase='train', scale=4)
    dataset = build_dataset(opt)
    assert dataset.base_num_frames == 7 and dataset.frames_multiplier == 2
    sample = dataset[(0, 3, 64)]  # a 3-frame window, mirrored to 6
    assert tuple(sample['lq'].shape) == (6, 3, 16, 16)
    assert torch.equal(sample['gt'][:3], sample['gt'][3:].flip(0))
    stock = build_dataset(dict({k: v for k, v in opt.items() if k != 'multigrid'},
                               flip_sequence=False))
    assert tuple(stock[0]['gt'].shape) == (7, 3, 136, 136)
    dataset.check_frames()
    copy = tmp_path / 'GT'
    shutil.copytree(opt['dataroot_gt'], copy)
    key = dataset.keys[0]
    (copy / key / 'im7.png').unlink()
    with pytest.raises(FileNotFoundError, match=f'{key}/im7.png'):
        build_dataset(dict(opt, dataroot_gt=str(copy))).check_frames()
    # The entry point on Vimeo-layout data: T/2, 3T/4, T of the 7 listed frames.
    run = vimeo_options(vimeo_data, 'vimeo_run')
    launch('vsr_multigrid.basicsr_ext.train', write(run, str(tmp_path)), str(tmp_path))
    records = trace(tmp_path / 'experiments' / 'vimeo_run', 0)
    assert [r['num_frames'] for r in records] == [8, 8, 10, 10, 14, 14]  # mirrored


def test_bench_basicsr_reads_basicsr_logs():
    from bench_basicsr import parse_log
    log = ('2026-11-26 05:30:54,252 INFO: End of training. Time consumed: 0:13:05\n'
           '\t # psnr: 26.1000\tBest: 26.1000 @ 800 iter\n'
           '2026-11-26 05:31:15 INFO: Validation REDS4\n\t # psnr: 26.2500\n')
    assert parse_log(log) == dict(train_seconds=785, psnr=26.25)
    with pytest.raises(ValueError, match='Time consumed'):
        parse_log('no training here')


SRUN = '''#!/usr/bin/env bash
# srun for a machine without Slurm: starts --ntasks copies of the command with
# the variables srun gives each task, on this node; fails if any task fails.
ntasks=1
while [[ $# -gt 0 && $1 != bash ]]; do
  case $1 in --ntasks=*) ntasks=${1#--ntasks=} ;; -p) shift ;; esac
  shift
done
pids=()
for ((i = 0; i < ntasks; i++)); do
  SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks SLURM_JOB_NODELIST=localhost "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
'''


def test_slurm_script_runs_basicsr_options_on_two_cpu_tasks(demo_data, tmp_path):
    """tools/slurm_train.sh with an option file: BasicSR's --launcher slurm, on
    CPU (gloo), ranks from srun's variables. No Slurm here: ``srun`` and
    ``scontrol`` are stand-ins that start the tasks on this node."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'srun').write_text(SRUN)
    (bin_dir / 'scontrol').write_text('#!/usr/bin/env bash\necho localhost\n')
    for tool in ('srun', 'scontrol'):
        os.chmod(bin_dir / tool, 0o755)
    opt = options(TINY_MG, demo_data, 'mg_slurm', total_iter=4)
    option_file = write(opt, str(tmp_path))
    env = dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}',
               PYTHON=sys.executable, GPUS='2', GPUS_PER_NODE='0', TASKS_PER_NODE='2',
               OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.run(['bash', osp.join(REPO, 'tools', 'slurm_train.sh'), 'cpu', 'mg',
                           option_file], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    root = tmp_path / 'experiments' / 'mg_slurm'
    ranks = [trace(root, r) for r in (0, 1)]
    assert all(len(records) == 4 for records in ranks)
    assert [r['clips'] for r in ranks[0]] != [r['clips'] for r in ranks[1]]  # two ranks
    assert (root / 'models' / 'net_g_4.pth').is_file()
