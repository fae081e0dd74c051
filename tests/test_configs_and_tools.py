"""Every shipped config parses against the installed MMagic; the report tools work."""
import glob
import json
import os.path as osp
import sys

import pytest

from conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_config_inherits_stock_and_parses(path):
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    assert cfg.model.type in ('BasicVSR', 'SSLBasicVSR', 'TemporalFinetuneBasicVSR',
                              'RoutedBasicVSR')
    generator = cfg.model.generator
    # No pretrained weights to download: SPyNet/EDVR URLs are unreachable here.
    if 'tiny' in path:
        assert generator.get('spynet_pretrained') is None
        assert generator.get('edvr_pretrained') is None
    if '/multigrid/' in path:
        assert cfg.train_cfg.type == 'MultigridTrainLoop'
        assert cfg.train_dataloader.batch_sampler.type == 'MultigridBatchSampler'
        assert cfg.train_dataloader.dataset.type == 'MultigridFramesDataset'
        assert cfg.param_scheduler.type == 'MultigridLR'
        assert cfg.param_scheduler.stock.type == 'CosineRestartLR'
        # The stock budget stays the reference the curriculum is measured against.
        assert cfg.train_cfg.max_iters == cfg.param_scheduler.stock.periods[0]
    elif 'tiny' in path and cfg.param_scheduler.get('type') == 'CosineRestartLR':
        # A tiny stock config that changes its budget changes the cosine with it.
        assert cfg.train_cfg.max_iters == cfg.param_scheduler.periods[0]


TINY_MULTIGRID = [p for p in CONFIGS if '/multigrid/' in p and 'tiny' in p]


@pytest.mark.parametrize('path', TINY_MULTIGRID, ids=lambda p: osp.relpath(p, REPO))
def test_tiny_curricula_fit_the_calibrated_stock_shape(path, tmp_path):
    """Every shipped tiny curriculum builds from its stock shape and the demo
    frames (136 px high), e.g. no clip shorter than the model accepts."""
    from conftest import run_tool
    proc = run_tool([sys.executable, 'tools/print_schedule.py', path,
                     '--frame-size', '136', '320'], str(tmp_path / 'nowhere'))
    assert 'total:' in proc.stdout


def test_compare_runs_table_and_png(tmp_path):
    import compare_runs  # tools/ is on sys.path via conftest

    def write(name, rows, ratio=None):
        folder = tmp_path / name
        (folder / 'curriculum').mkdir(parents=True)
        with open(folder / 'progress.jsonl', 'w') as f:
            for it, sec, psnr in rows:
                f.write(json.dumps(dict(iter=it, train_seconds=sec, samples_seen=it * 4,
                                        metrics=dict(PSNR=psnr, SSIM=0.5))) + '\n')
        if ratio:
            with open(folder / 'curriculum' / 'schedule.json', 'w') as f:
                json.dump(dict(compute_ratio=ratio), f)
        return str(folder)

    stock = write('stock', [(10, 100, 26.0), (20, 200, 27.0), (30, 300, 27.5)])
    fast = write('mg', [(5, 40, 26.5), (10, 75, 27.6), (15, 120, 27.7)], ratio=2.0)
    rc = compare_runs.main([stock, fast, '--out', str(tmp_path / 'out')])
    assert rc == 0
    rows = json.load(open(tmp_path / 'out' / 'compare.json'))
    assert rows[0]['speedup_to_target'] == pytest.approx(1.0)
    assert rows[1]['time_to_target'] == 75 and rows[1]['speedup_to_target'] == pytest.approx(4.0)
    assert rows[1]['diff'] == pytest.approx(0.2)
    assert rows[1]['theoretical_ratio'] == 2.0
    assert osp.getsize(tmp_path / 'out' / 'compare.png') > 1000
    with pytest.raises(FileNotFoundError, match='progress.jsonl'):
        compare_runs.load_run(str(tmp_path / 'missing'), 'PSNR')


def test_compare_runs_groups_seeds_and_states_the_noise_floor(tmp_path):
    import compare_runs

    def run(rows, ratio=1.0):
        return dict(records=[dict(iter=i, train_seconds=t, samples_seen=i * 4,
                                  metrics=dict(PSNR=p)) for i, (t, p) in enumerate(rows, 1)],
                    compute_ratio=ratio)

    stock = [run([(100, 26.0), (200, 27.0), (300, 27.4)]),
             run([(100, 26.1), (200, 27.2), (300, 27.6)])]
    fast = [run([(40, 27.4), (80, 27.6)], 3.0), run([(40, 27.0), (80, 27.4)], 3.0)]
    rows = compare_runs.compare(dict(stock=stock, mg=fast), 'PSNR', dict(bicubic=26.3))
    std = (2 * 0.1 ** 2) ** 0.5  # sample std of 27.4 and 27.6
    assert rows[0]['noise_floor'] == pytest.approx(std)
    assert rows[0]['target'] == pytest.approx(27.5 - std)
    # Median over seeds of the first validation at or above the target.
    assert rows[0]['time_to_target'] == 300 and rows[1]['time_to_target'] == 60
    assert rows[1]['speedup_to_target'] == pytest.approx(5.0)
    assert rows[1]['final'] == pytest.approx(27.5) and rows[1]['seeds'] == 2
    assert rows[1]['realised_share'] == pytest.approx((300 / 80) / 3.0)
    assert rows[2]['run'] == 'bicubic' and rows[2]['diff'] == pytest.approx(26.3 - 27.5)
    table = compare_runs.to_markdown(rows, 'PSNR')
    assert 'bicubic (no training)' in table and '27.500 ± 0.141' in table
    compare_runs.plot(dict(stock=stock, mg=fast), 'PSNR', str(tmp_path / 'c.png'),
                      dict(bicubic=26.3))
    assert osp.getsize(tmp_path / 'c.png') > 1000
    # A seed that never reaches the target counts as infinitely late: the
    # median of 3 seeds stays defined with 2 that reached it, not with 1.
    three = stock + [run([(100, 26.0), (200, 26.5), (300, 26.9)])]
    never = run([(40, 26.0), (80, 26.1)])
    rows = compare_runs.compare(dict(stock=three, mg=[fast[0], never, never]), 'PSNR')
    # target 27.3 - 0.361: the first two reach it at 200 s, the third never.
    assert rows[0]['reached'] == 2 and rows[0]['time_to_target'] == 200
    assert rows[1]['reached'] == 1 and rows[1]['time_to_target'] is None
