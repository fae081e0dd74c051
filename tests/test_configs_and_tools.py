"""Every shipped config parses against the installed MMagic; the report tools work."""
import glob
import json
import os.path as osp

import pytest

from conftest import REPO

CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_config_inherits_stock_and_parses(path):
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'BasicVSR'
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
