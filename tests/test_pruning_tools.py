"""SSL through the real launchers: stage 1 (1 and 2 processes, resume), the
prune tool, and the pruned model evaluated and fine-tuned by the stock tools."""
import json
import os.path as osp
import sys

import pytest
import torch

from conftest import REPO, SMALL, TINY_BASICVSR, error_text, run_tool, train

STAGE1 = osp.join(REPO, 'configs', 'ssl', 'basicvsr_ssl-stage1_tiny_demo.py')
FINETUNE = osp.join(REPO, 'configs', 'ssl', 'basicvsr_ssl-finetune_tiny_demo.py')
FINETUNE_TF = osp.join(REPO, 'configs', 'ssl', 'basicvsr_ssl-finetune-tf_tiny_demo.py')
ICON_STAGE1 = osp.join(REPO, 'configs', 'ssl', 'iconvsr_ssl-stage1_tiny_demo.py')
ICON_FINETUNE = osp.join(REPO, 'configs', 'ssl', 'iconvsr_ssl-finetune_tiny_demo.py')
# Penalties grow 0.01 per iteration from the first, so a checkpoint tells how
# many iterations the regulariser has seen.
SSL_SMALL = SMALL + ['model.generator.sparsity.interval=1',
                     'model.generator.sparsity.delta=0.01']
NOT_GENERATOR = [o for o in SMALL if not o.startswith('model.generator.')]


def _ssl_state(path):
    state = torch.load(path, map_location='cpu')['state_dict']
    return {k[len('generator.ssl.'):]: v for k, v in state.items()
            if k.startswith('generator.ssl.')}


def _losses(work_dir, key='loss_sparsity'):
    import glob
    values = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            values += [json.loads(line).get(key) for line in f]
    return [v for v in values if v is not None]


def test_stage1_resume_prune_test_and_finetune(demo_data, tmp_path):
    work = tmp_path / 'stage1'
    opts = SSL_SMALL + ['train_cfg.max_iters=4', 'train_cfg.val_interval=4',
                        'default_hooks.checkpoint.interval=4', 'param_scheduler.periods=[6]']
    train(STAGE1, work, demo_data, opts)
    ssl = _ssl_state(work / 'iter_4.pth')
    assert int(ssl['iteration']) == 4 and bool(ssl['has_picked'])
    picked = int(sum(v.sum() for k, v in ssl.items() if k.startswith('picked_')))
    total = int(sum(v.numel() for k, v in ssl.items() if k.startswith('picked_')))
    assert picked == round(0.5 * total)
    penalty = max(float(v.max()) for k, v in ssl.items() if k.startswith('penalty_'))
    assert penalty == pytest.approx(0.04)
    assert _losses(work) and max(_losses(work)) > 0

    # Resume continues the regulariser: same pick, penalties keep growing.
    train(STAGE1, work, demo_data, [o.replace('max_iters=4', 'max_iters=6') for o in opts],
          resume=True)
    resumed = _ssl_state(work / 'iter_6.pth')
    assert int(resumed['iteration']) == 6
    for key, value in ssl.items():
        if key.startswith('picked_'):
            assert torch.equal(resumed[key], value), key
    assert max(float(v.max()) for k, v in resumed.items()
               if k.startswith('penalty_')) == pytest.approx(0.06)

    # Stage 2: slice to half the MACs; the tool checks itself on a real clip.
    out = tmp_path / 'pruned'
    proc = run_tool([sys.executable, 'tools/prune.py', STAGE1, str(work / 'iter_6.pth'),
                     '--macs', '0.5', '--out', str(out), '--cfg-options', *SSL_SMALL],
                    demo_data)
    assert 'max abs difference' in proc.stdout
    report = json.load(open(out / 'prune_report.json'))
    assert report['macs_ratio'] <= 0.5 and report['max_abs_difference'] < 1e-3
    spec = json.load(open(out / 'channel_spec.json'))
    assert spec['kept'] and spec['stream_mode'] == 'aligned'

    # The stock tools/test.py evaluates the pruned checkpoint.
    pruned_opts = NOT_GENERATOR + [f'model.generator.channel_spec={out}/channel_spec.json']
    metrics_path = tmp_path / 'metrics.json'
    run_tool([sys.executable, 'tools/test.py', FINETUNE, str(out / 'pruned.pth'),
              '--work-dir', str(tmp_path / 'test'), '--out', str(metrics_path),
              '--cfg-options', *pruned_opts], demo_data)
    assert 5 < json.load(open(metrics_path))['PSNR'] < 60

    # ... and refuses it with the dense model, naming the layer.
    proc = run_tool([sys.executable, 'tools/test.py', TINY_BASICVSR, str(out / 'pruned.pth'),
                     '--work-dir', str(tmp_path / 'test_dense'), '--cfg-options', *SMALL],
                    demo_data, check=False)
    assert proc.returncode != 0
    assert 'generator.' in error_text(proc.stdout + proc.stderr)

    # Stage 3 fine-tunes it from that checkpoint.
    train(FINETUNE, tmp_path / 'finetune', demo_data,
          pruned_opts + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                         'default_hooks.checkpoint.interval=2',
                         f'load_from={out}/pruned.pth'])
    assert osp.isfile(tmp_path / 'finetune' / 'iter_2.pth')

    # ... or with Temporal Finetuning: longer clips, distilled from stage 1.
    tf_work = tmp_path / 'finetune_tf'
    train(FINETUNE_TF, tf_work, demo_data,
          pruned_opts + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                         'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=1',
                         'train_dataloader.dataset.num_input_frames=8',
                         f'load_from={out}/pruned.pth',
                         f'model.teacher.checkpoint={work}/iter_6.pth'])
    temporal = _losses(tf_work, 'loss_temporal')
    assert len(temporal) == 2 and all(v > 0 for v in temporal)
    # The teacher is not saved with the student.
    state = torch.load(tf_work / 'iter_2.pth', map_location='cpu')['state_dict']
    assert not any('teacher' in k for k in state)
    # PSNR by frame position of the TF model and of the pruned one before it
    # (no saved config: named after @), with the bicubic line.
    frames = tmp_path / 'frames.json'
    run_tool([sys.executable, 'tools/psnr_by_frame.py', TINY_BASICVSR,
              f'tf={tf_work}/iter_2.pth', f'pruned={out}/pruned.pth@{FINETUNE}',
              '--out', str(frames), '--cfg-options', *pruned_opts], demo_data)
    scores = json.load(open(frames))
    curves = scores['psnr_by_frame']
    val_meta = open(osp.join(demo_data, 'meta_info_val.txt')).read().split()
    clip_len = int(val_meta[1])
    assert sorted(curves) == ['bicubic', 'pruned', 'tf']
    assert all(len(v) == clip_len and all(5 < x < 60 for x in v) for v in curves.values())
    # One val clip: its whole-clip PSNR is the mean of the by-frame curve.
    by_clip = scores['psnr_by_clip']
    assert all(list(by_clip[k]) == val_meta[0::3] for k in curves)
    assert all(abs(by_clip[k][val_meta[0]] - sum(v) / len(v)) < 1e-6 for k, v in curves.items())
    proc = run_tool([sys.executable, 'tools/train.py', FINETUNE_TF, '--work-dir',
                     str(tmp_path / 'no_teacher'), '--cfg-options', *pruned_opts,
                     f'model.teacher.checkpoint={tmp_path}/none.pth'], demo_data, check=False)
    assert proc.returncode != 0
    assert 'model.teacher.checkpoint' in error_text(proc.stdout + proc.stderr)


def test_stage1_two_processes(demo_data, tmp_path):
    work = tmp_path / 'ddp'
    train(STAGE1, work, demo_data,
          SSL_SMALL + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                       'default_hooks.checkpoint.interval=2'], nproc=2, port=29531)
    ssl = _ssl_state(work / 'iter_2.pth')
    assert int(ssl['iteration']) == 2
    assert max(float(v.max()) for k, v in ssl.items()
               if k.startswith('penalty_')) == pytest.approx(0.02)
    assert _losses(work)


def test_prune_report_costs(tmp_path):
    out = tmp_path / 'report.json'
    proc = run_tool([sys.executable, 'tools/prune_report.py', '--mid-channels', '8',
                     '--num-blocks', '2', '--macs', '0.5', '0.25', '--lr-size', '32', '32',
                     '--frames', '2', '--repeats', '1', '--out', str(out)], str(tmp_path))
    assert '| model |' in proc.stdout
    rows = json.load(open(out))['rows']
    assert [r['model'] for r in rows] == ['dense 8x2', 'aligned 0.5 of MACs',
                                          'aligned 0.25 of MACs', 'rsc 0.5 of MACs',
                                          'rsc 0.25 of MACs']
    dense = rows[0]['gmacs_convs']
    for row, share in zip(rows[1:], [0.5, 0.25, 0.5, 0.25]):
        assert row['gmacs_convs'] <= share * dense + 1e-9
        assert row['params'] < rows[0]['params']
        assert row['gmacs_spynet'] == rows[0]['gmacs_spynet'] and row['ms_per_frame'] > 0
    assert rows[0]['speedup'] == 1.0 and all(r['speedup'] > 0 for r in rows)


def test_iconvsr_prune_and_finetune(demo_data, tmp_path):
    """IconVSR through the same tools: a stage-1 checkpoint (random weights
    and scales: what is tested is the slicing of the refill convs, the
    forward branch's two-stream input and EDVR passed through) is pruned,
    checked on a real clip, and fine-tuned with Temporal Finetuning."""
    from vsr_multigrid.engine.pruning import SSLIconVSRNet
    torch.manual_seed(0)
    net = SSLIconVSRNet(mid_channels=64, num_blocks=1)
    with torch.no_grad():
        for scale in net.ssl.scales.values():
            scale.uniform_(0.2, 1.5)
    stage1 = tmp_path / 'stage1.pth'
    torch.save(dict(state_dict={f'generator.{k}': v for k, v in net.state_dict().items()}),
               stage1)
    data_opts = [o for o in NOT_GENERATOR if 'num_input_frames' not in o]
    icon_opts = ['model.generator.num_blocks=1'] + data_opts
    out = tmp_path / 'pruned'
    proc = run_tool([sys.executable, 'tools/prune.py', ICON_STAGE1, str(stage1),
                     '--macs', '0.5', '--round-to', '8', '--out', str(out),
                     '--cfg-options', *icon_opts], demo_data)
    assert 'max abs difference' in proc.stdout
    report = json.load(open(out / 'prune_report.json'))
    assert report['macs_ratio'] <= 0.5 and report['max_abs_difference'] < 1e-3
    spec = json.load(open(out / 'channel_spec.json'))
    assert spec['arch'] == 'IconVSRNet' and spec['keyframe_stride'] == 5
    assert all(len(v) % 8 == 0 for v in spec['kept'].values())
    work = tmp_path / 'finetune'
    train(ICON_FINETUNE, work, demo_data,
          data_opts + [f'model.generator.channel_spec={out}/channel_spec.json',
                       f'load_from={out}/pruned.pth', f'model.teacher.checkpoint={stage1}',
                       'model.teacher.generator.type=SSLIconVSRNet',
                       'model.teacher.generator.num_blocks=1',
                       'train_dataloader.dataset.num_input_frames=6',
                       'train_cfg.max_iters=1', 'train_cfg.val_interval=1',
                       'default_hooks.checkpoint.interval=1'])
    assert _losses(work, 'loss_temporal')
