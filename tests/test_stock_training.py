"""The stock tiny BasicVSR through the real launchers: 1 process, 2 processes, resume."""
import glob
import json
import os.path as osp

import pytest
import torch

import sys

from conftest import SMALL, TINY_BASICVSR, run_tool, train


def _progress(work_dir):
    with open(osp.join(work_dir, 'progress.jsonl')) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_train_validate_and_resume_one_process(demo_data, tmp_path):
    work = tmp_path / 'stock'
    opts = SMALL + ['train_cfg.max_iters=4', 'train_cfg.val_interval=2',
                    'default_hooks.checkpoint.interval=2', 'param_scheduler.periods=[6]']
    train(TINY_BASICVSR, work, demo_data, opts)
    records = _progress(work)
    assert [r['iter'] for r in records] == [2, 4]
    psnr = records[-1]['metrics']['PSNR']
    assert 5 < psnr < 60 and 0 < records[-1]['metrics']['SSIM'] <= 1
    assert records[-1]['samples_seen'] == 4 * 2
    assert osp.isfile(work / 'iter_4.pth')

    # The checkpoint loads with torch's safe default (weights_only=True).
    checkpoint = torch.load(work / 'iter_4.pth', map_location='cpu')
    assert checkpoint['meta']['iter'] == 4

    # Resume on torch >= 2.6: continues at iteration 4 up to 6.
    opts_more = [o.replace('max_iters=4', 'max_iters=6') for o in opts]
    proc = train(TINY_BASICVSR, work, demo_data, opts_more, resume=True)
    assert 'resumed epoch: 0, iter: 4' in (proc.stdout + proc.stderr)
    records = _progress(work)
    assert [r['iter'] for r in records] == [2, 4, 6]
    # The recorder's counters continued from the checkpoint.
    assert records[-1]['samples_seen'] == 6 * 2
    assert records[-1]['train_seconds'] > records[1]['train_seconds']

    # tools/test.py evaluates the checkpoint on the test set (the val clip).
    out = work / 'test_metrics.json'
    run_tool([sys.executable, 'tools/test.py', TINY_BASICVSR, str(work / 'iter_6.pth'),
              '--work-dir', str(work / 'test'), '--out', str(out),
              '--cfg-options', *SMALL], demo_data)
    metrics = json.load(open(out))
    assert metrics['PSNR'] == pytest.approx(records[-1]['metrics']['PSNR'], abs=1e-3)


def test_load_from_checkpoint(demo_data, tmp_path):
    work = tmp_path / 'first'
    opts = SMALL + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                    'default_hooks.checkpoint.interval=2']
    train(TINY_BASICVSR, work, demo_data, opts)
    proc = train(TINY_BASICVSR, tmp_path / 'second', demo_data,
                 opts + [f'load_from={work}/iter_2.pth'])
    assert 'Load checkpoint from' in proc.stdout + proc.stderr
    # Initialising from weights is a new run: its progress starts from zero.
    assert _progress(tmp_path / 'second')[-1]['samples_seen'] == 2 * 2


def test_two_processes_gloo_train_and_resume(demo_data, tmp_path):
    work = tmp_path / 'dist'
    opts = SMALL + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                    'default_hooks.checkpoint.interval=2']
    proc = train(TINY_BASICVSR, work, demo_data, opts, nproc=2, port=29531)
    log = proc.stdout + proc.stderr
    assert 'world_size: 2' in log or "'world_size': 2" in log or 'Distributed launcher: pytorch' in log
    records = _progress(work)
    assert records[-1]['iter'] == 2
    # Two ranks x batch 2 x 2 iterations.
    assert records[-1]['samples_seen'] == 2 * 2 * 2
    opts_more = [o.replace('max_iters=2', 'max_iters=4') for o in opts]
    proc = train(TINY_BASICVSR, work, demo_data, opts_more, nproc=2, resume=True,
                 port=29532)
    assert 'resumed epoch: 0, iter: 2' in proc.stdout + proc.stderr
    assert _progress(work)[-1]['iter'] == 4
    assert glob.glob(str(work / 'iter_4.pth'))
