"""The benchmark's tools on real data: zero line, flow pretraining, frame view."""
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch

from conftest import SMALL, TINY_BASICVSR, run_tool, train


# -- interleaved timing (tools/timing.py) ------------------------------------
def test_interleaved_timing_ranks_models_and_returns_outputs():
    import time
    sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools'))
    from timing import interleaved_timing
    calls = []

    def model(delay, scale):
        def run(x):
            calls.append(scale)
            time.sleep(delay)
            return x * scale
        return run

    outs, seconds, speedups = interleaved_timing(
        [model(0.02, 1), model(0.002, 2), model(0.06, 3)], torch.ones(2), repeats=3)
    assert [o.tolist() for o in outs] == [[1, 1], [2, 2], [3, 3]]
    assert calls == [1, 2, 3] * 4  # round-robin, warm-up round included
    assert speedups[0] == 1.0 and speedups[1] > 2 and speedups[2] < 0.7
    assert seconds[1] < seconds[0] < seconds[2]
    with pytest.raises(ValueError, match='repeats'):
        interleaved_timing([model(0, 1)], torch.ones(1), repeats=0)


# -- unsupervised flow (plain torch) ----------------------------------------
class ConstantFlow(torch.nn.Module):
    """A flow network that learns one shift for every pixel."""

    def __init__(self):
        super().__init__()
        self.shift = torch.nn.Parameter(torch.zeros(2))

    def forward(self, ref, supp):
        return self.shift.view(1, 2, 1, 1).expand(ref.shape[0], 2, *ref.shape[2:])


def test_warp_by_the_true_shift_reconstructs_the_reference():
    from vsr_multigrid.flow.unsupervised import photometric_loss, warp
    torch.manual_seed(0)
    supp = torch.rand(2, 3, 24, 32)
    # ref(x) = supp(x + 3): the flow from ref to supp is +3 px in x.
    ref = torch.zeros_like(supp)
    ref[..., :-3] = supp[..., 3:]
    flow = torch.zeros(2, 2, 24, 32)
    flow[:, 0] = 3.0
    warped = warp(supp, flow)
    assert torch.allclose(warped[..., :-3], ref[..., :-3], atol=1e-5)
    good = photometric_loss(ref, supp, flow)
    assert good < 2e-3  # only the Charbonnier epsilon remains
    assert photometric_loss(ref, supp, torch.zeros_like(flow)) > 10 * good
    # Identity: zero flow reproduces the frame.
    assert torch.allclose(warp(supp, torch.zeros_like(flow)), supp, atol=1e-6)


def test_pretrain_flow_lowers_the_photometric_loss_of_a_shift():
    from vsr_multigrid.flow.unsupervised import pretrain_flow

    generator = torch.Generator().manual_seed(0)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(64, 3, 40, 40, generator=generator),
                                            5, 1, 2)

    def pairs():
        while True:
            supp = smooth[:8, :, 4:36, 4:36]
            ref = smooth[:8, :, 4:36, 5:37]  # ref(x) = supp(x + 1)
            yield ref, supp

    net = ConstantFlow()
    history = pretrain_flow(net, pairs(), iterations=150, lr=0.05, smoothness=0.0,
                            log_every=0)
    assert history[-1] < 0.5 * history[0]
    assert net.shift[0].item() == pytest.approx(1.0, abs=0.15)


# -- supervised flow on synthetic pairs (plain torch) ----------------------
def test_synthetic_pair_is_reproduced_by_warping_with_its_flow():
    from vsr_multigrid.flow.synthetic import synthetic_pair
    from vsr_multigrid.flow.unsupervised import warp
    generator = torch.Generator().manual_seed(0)
    frame = torch.nn.functional.avg_pool2d(torch.rand(3, 50, 70, generator=generator)[None],
                                           3, 1, 1)[0]
    for _ in range(5):
        ref, supp, flow, valid = synthetic_pair(frame, 32, 4.0, generator)
        assert ref.shape == supp.shape == (3, 32, 32) and flow.shape == (2, 32, 32)
        assert 0.3 < valid.mean() <= 1.0
        warped = warp(supp[None], flow[None])[0]
        inside = valid.bool().expand_as(ref)
        assert torch.allclose(warped[inside], ref[inside], atol=1e-5)
        # Zero flow does not explain the pair: it is a real motion.
        assert (supp - ref)[inside].abs().mean() > 1e-3
    with pytest.raises(ValueError, match='smaller than the crop 64'):
        synthetic_pair(frame, 64, 4.0, generator)


def test_random_flow_is_bounded_and_varied():
    from vsr_multigrid.flow.synthetic import random_flow
    flows = random_flow(64, 32, 32, 3.0, torch.Generator().manual_seed(1))
    assert flows.abs().max() <= 3.0 * 1.5
    assert flows.abs().mean() > 0.3
    # Not one translation: the field varies inside a sample.
    assert flows.flatten(2).std(dim=2).mean() > 0.05
    with pytest.raises(ValueError, match='max_motion'):
        random_flow(1, 8, 8, 0.0)


def test_supervised_pretraining_learns_a_known_shift():
    from vsr_multigrid.flow.synthetic import pretrain_flow_supervised

    def batches():
        target = torch.tensor([1.5, -0.5]).view(1, 2, 1, 1).expand(4, 2, 8, 8)
        while True:
            yield torch.zeros(4, 3, 8, 8), torch.zeros(4, 3, 8, 8), target, torch.ones(4, 1, 8, 8)

    net = ConstantFlow()
    history = pretrain_flow_supervised(net, batches(), iterations=300, lr=0.05, log_every=0)
    assert history[-1] < 0.1 * history[0]
    assert net.shift.tolist() == pytest.approx([1.5, -0.5], abs=0.1)


def test_pretrain_spynet_tool_writes_a_checkpoint_the_generator_loads(demo_data, tmp_path):
    out = tmp_path / 'spynet.pth'
    proc = run_tool([sys.executable, 'tools/pretrain_spynet.py', '--data', demo_data,
                     '--iters', '3', '--batch', '2', '--out', str(out)], demo_data)
    assert 'validation photometric error: zero flow' in proc.stdout
    meta = json.load(open(tmp_path / 'spynet.json'))
    # Zero-flow start: the untrained network warps exactly like no warping.
    assert meta['val_error']['initial'] == pytest.approx(meta['val_error']['zero_flow'])
    from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet
    net = BasicVSRNet(mid_channels=8, num_blocks=1, spynet_pretrained=str(out))
    saved = torch.load(out)['state_dict']
    loaded = net.spynet.state_dict()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)


def test_pretrain_spynet_synthetic_objective_reports_and_lowers_endpoint_error(demo_data,
                                                                              tmp_path):
    out = tmp_path / 'spynet.pth'
    proc = run_tool([sys.executable, 'tools/pretrain_spynet.py', '--data', demo_data,
                     '--objective', 'synthetic', '--iters', '100', '--batch', '4',
                     '--lr', '5e-4', '--out', str(out)], demo_data)
    assert 'synthetic end-point error' in proc.stdout
    errors = json.load(open(tmp_path / 'spynet.json'))['val_error']
    assert errors['initial']['endpoint'] == pytest.approx(errors['zero_flow']['endpoint'])
    # 100 supervised steps already move the flow towards the known motion.
    assert errors['trained']['endpoint'] < errors['zero_flow']['endpoint']


# -- the zero line ---------------------------------------------------------
def test_bicubic_baseline_matches_an_independent_computation(demo_data, tmp_path):
    import cv2
    out = tmp_path / 'bicubic.json'
    run_tool([sys.executable, 'tools/bicubic_baseline.py', TINY_BASICVSR, '--out', str(out)],
             demo_data)
    scores = json.load(open(out))
    assert scores['bicubic']['PSNR'] > scores['bilinear']['PSNR']
    # The one val clip ('002'), read straight from disk, scored with numpy.
    psnrs = []
    for i in range(12):
        gt = cv2.imread(osp.join(demo_data, 'train_sharp', '002', f'{i:08d}.png'))
        lr = cv2.imread(osp.join(demo_data, 'train_sharp_bicubic', 'X4', '002', f'{i:08d}.png'))
        gt = cv2.cvtColor(gt, cv2.COLOR_BGR2RGB).astype(np.float64)
        lr = cv2.cvtColor(lr, cv2.COLOR_BGR2RGB).astype(np.float32)
        up = np.clip(cv2.resize(lr, gt.shape[1::-1], interpolation=cv2.INTER_CUBIC), 0, 255)
        psnrs.append(10 * np.log10(255 ** 2 / np.mean((gt - up) ** 2)))
    assert scores['bicubic']['PSNR'] == pytest.approx(np.mean(psnrs), abs=1e-4)
    assert scores['bicubic']['clips'] == {'002': pytest.approx(np.mean(psnrs), abs=1e-4)}


# -- the frame a person looks at -------------------------------------------
def test_visualize_sr_writes_the_side_by_side_png(demo_data, tmp_path):
    work = tmp_path / 'stock'
    options = SMALL + ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                       'default_hooks.checkpoint.interval=2']
    train(TINY_BASICVSR, work, demo_data, options)
    out = tmp_path / 'frame.png'
    config = str(work / 'basicvsr_tiny_demo.py')  # the config as trained (width 8)
    proc = run_tool([sys.executable, 'tools/visualize_sr.py', config,
                     f'stock={work}/iter_2.pth', f'again={work}/iter_2.pth',
                     '--out', str(out)], demo_data)
    assert 'wrote' in proc.stdout
    import cv2
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] > 4 * image.shape[0] / 2


def test_benchmark_cfg_options_add_up_over_repeats():
    """tools/demo.sh passes its own --cfg-options before the user's: both count."""
    import benchmark
    args = benchmark.build_parser().parse_args(
        ['stock=a.py', '--cfg-options', 'train_cfg.val_interval=400',
         '--cfg-options', 'randomness.seed=3', 'train_cfg.val_interval=200'])
    assert args.cfg_options == ['train_cfg.val_interval=400', 'randomness.seed=3',
                                'train_cfg.val_interval=200']
    # the later value of a repeated key wins, as in mmengine's DictAction
    assert benchmark.parse_cfg_options(args.cfg_options) == {
        'train_cfg.val_interval': 200, 'randomness.seed': 3}
    assert benchmark.build_parser().parse_args(['stock=a.py']).cfg_options == []


def test_shape_costs_tabulates_the_trace_per_shape(tmp_path):
    import benchmark
    (tmp_path / 'curriculum').mkdir()
    records = [(4, 8, 128, 9.0), (4, 8, 128, 2.0), (4, 8, 128, 2.2), (4, 8, 128, 2.1),
               (16, 4, 64, 5.0), (16, 4, 64, 1.0)]
    with open(tmp_path / 'curriculum' / 'rank0.jsonl', 'w') as f:
        for i, (b, t, s, sec) in enumerate(records):
            f.write(json.dumps(dict(iter=i, batch_size=b, num_frames=t, crop_size=s,
                                    lr=1e-4, seconds=sec)) + '\n')
    rows = {(r['batch'], r['frames'], r['crop']): r for r in benchmark.shape_costs(str(tmp_path))}
    # The first iteration of a shape is warm-up; the median of the rest counts.
    assert rows[(4, 8, 128)]['s_per_iter'] == pytest.approx(2.1)
    assert rows[(4, 8, 128)]['iters'] == 3
    assert rows[(16, 4, 64)]['s_per_iter'] == pytest.approx(1.0)
    assert rows[(16, 4, 64)]['s_per_mpixel'] == pytest.approx(1.0 / (16 * 4 * 64 ** 2 / 1e6))
    assert benchmark.shape_costs(str(tmp_path / 'none')) == []


def test_visualize_sr_prediction_scores_what_the_runner_scored(demo_data, tmp_path):
    """The panel's frames are in the loaded GT's order: their PSNR equals the
    validation PSNR the runner logged (MMagic flips GT and output to BGR at
    test time; a frame shown without flipping back scores several dB lower)."""
    import numpy as np
    import visualize_sr
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmagic.evaluation.metrics.psnr import psnr
    from mmagic.registry import DATASETS
    work = tmp_path / 'stock'
    options = SMALL + ['train_cfg.max_iters=4', 'train_cfg.val_interval=4',
                       'default_hooks.checkpoint.interval=4']
    train(TINY_BASICVSR, work, demo_data, options)
    logged = [json.loads(line) for line in open(work / 'progress.jsonl')][-1]
    cfg = Config.fromfile(str(work / 'basicvsr_tiny_demo.py'))
    init_default_scope('mmagic')
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(dataset) == 1  # the logged PSNR is this clip's
    sample = dataset[0]
    gt = np.asarray(sample['data_samples'].gt_img).transpose(0, 2, 3, 1).astype(np.float32)
    frames = visualize_sr.predict_clip(cfg, str(work / 'iter_4.pth'), sample)
    again = visualize_sr.predict_clip(cfg, str(work / 'iter_4.pth'), sample)
    assert np.array_equal(frames, again)  # the sample is not changed by a prediction
    mean = float(np.mean([psnr(g, f) for g, f in zip(gt, frames)]))
    assert mean == pytest.approx(logged['metrics']['PSNR'], abs=0.02)


def test_step_cost_times_each_shape_and_names_the_flow_padding(demo_data):
    proc = run_tool([sys.executable, 'tools/step_cost.py', TINY_BASICVSR, '--shapes',
                     '1x2x32', '1x3x128', '--repeats', '1', '--cfg-options',
                     'model.generator.mid_channels=4', 'model.generator.num_blocks=1'],
                    demo_data)
    rows = [line.split('|')[1:-1] for line in proc.stdout.splitlines()
            if line.startswith('| 1 ')]
    assert [[c.strip() for c in row[:5]] for row in rows] == [
        ['1', '2', '32', '8', '32'], ['1', '3', '128', '32', '32']]
    assert all(float(row[6]) > 0 for row in rows)
    bad = run_tool([sys.executable, 'tools/step_cost.py', TINY_BASICVSR, '--shapes', '4x8'],
                   demo_data, check=False)
    assert bad.returncode != 0 and "'4x8': expected BxTxS" in bad.stderr


def test_device_tolerant_init_skips_only_failing_statements_and_ops_raise(tmp_path, monkeypatch):
    """tools/device/tolerant.py (the GPU machine's import harness): a package
    __init__ under a tolerant root keeps every statement that works, lists
    the one that failed, and an uncompiled mmcv op raises naming itself."""
    sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools',
                                'device'))
    import tolerant
    sub = tmp_path / 'tolerantroot' / 'sub'
    sub.mkdir(parents=True)
    (tmp_path / 'tolerantroot' / '__init__.py').write_text('')
    (sub / '__init__.py').write_text('BEFORE = 1\nimport no_such_module_xyz\nAFTER = 2\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = tolerant._TolerantFinder(('tolerantroot',))
    monkeypatch.setattr(sys, 'meta_path', [finder] + sys.meta_path)
    try:
        import tolerantroot.sub as module
        assert (module.BEFORE, module.AFTER) == (1, 2)
        assert any(name == 'tolerantroot.sub' and 'no_such_module_xyz' in why
                   for name, why in tolerant.skipped())
    finally:
        for name in ('tolerantroot.sub', 'tolerantroot'):
            sys.modules.pop(name, None)
    ops = tolerant._UnbuiltOps('mmcv._ext')
    with pytest.raises(RuntimeError, match="'nms' is not compiled"):
        ops.nms()
    assert not hasattr(ops, '__file__')
