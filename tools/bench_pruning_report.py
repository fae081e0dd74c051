"""The table of ``tools/bench_pruning.sh``: quality, cost and latency per method.

    python tools/bench_pruning_report.py work_dirs/bench_pruning --dense DENSE.pth \
        [--stock-runs work_dirs/bench7/stock-s0 work_dirs/bench7/stock-s1 ...]

Reads each run's final validation (the run's ``progress.jsonl``, as
``tools/compare_runs.py`` does) and each pruned model's ``prune_report.json``;
adds the bicubic line of the same clips and, with ``--stock-runs``, the dense
model's seed spread (the noise floor); measures latency per frame of every
final architecture with ``tools/prune_report.py`` and PSNR by frame position
of the dense model and the 25% SSL model with and without Temporal Finetuning
with ``tools/psnr_by_frame.py``. Writes ``report.md``, ``report.json``,
``latency.json``, ``frames.json`` and ``frames.png`` into the bench folder.
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

#: The dense config pruned (tools/bench_pruning.sh passes its own as --stock).
DEFAULT_STOCK = 'configs/basicvsr/basicvsr_tiny_calibrated.py'
#: Row label, run folder pattern, the folder of its channel spec, what its
#: iterations after the dense training are made of, and the key of the run's
#: own length in those counts.
METHODS = [
    ('SSL + TF', 'ssl-tf-{tag}', 'ssl-{tag}', 'stage 1 {s1} + TF fine-tune {ft}', 'ft'),
    ('SSL, no TF', 'ssl-notf-{tag}', 'ssl-{tag}', 'stage 1 {s1} + fine-tune {ft}', 'ft'),
    ('SSL (RSC) + TF', 'ssl-rsc-tf-{tag}', 'ssl-rsc-{tag}', 'stage 1 {s1} + TF fine-tune {ft}',
     'ft'),
    ('L1-norm', 'l1-ft-{tag}', 'l1-{tag}', 'fine-tune {both}', 'both'),
    ('narrow, from scratch', 'scratch-{tag}', 'narrow-{tag}', 'all {all} from scratch', 'all'),
]
TARGETS = [('p50', 0.5), ('p25', 0.25), ('p10', 0.1)]


def final(run_dir: str) -> dict:
    from compare_runs import load_run
    record = load_run(run_dir, 'PSNR')['records'][-1]
    return dict(PSNR=record['metrics']['PSNR'], SSIM=record['metrics'].get('SSIM'),
                iter=record['iter'], minutes=record['train_seconds'] / 60)


def dense_score(checkpoint: str, root: str, stock: str) -> dict:
    """The dense model's final validation, from its run's records; for a
    checkpoint without them (e.g. converted from BasicSR) scored on the same
    clips by ``tools/psnr_by_frame.py`` (all clips have the same length, so
    its mean over frames is the validation PSNR)."""
    run_dir = osp.dirname(checkpoint)
    if osp.isfile(osp.join(run_dir, 'progress.jsonl')):
        return final(run_dir)
    out = osp.join(root, 'dense_score.json')
    subprocess.run([sys.executable, 'tools/psnr_by_frame.py', stock,
                    f'dense={checkpoint}@{stock}', '--out', out], check=True)
    by_frame = json.load(open(out))['psnr_by_frame']['dense']
    return dict(PSNR=statistics.mean(by_frame), SSIM=None, iter=None, minutes=None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root')
    parser.add_argument('--dense', required=True, help='the dense checkpoint pruned')
    parser.add_argument('--stock', default=DEFAULT_STOCK,
                        help=f'the dense checkpoint\'s config (default {DEFAULT_STOCK})')
    parser.add_argument('--stock-runs', nargs='*', default=[],
                        help='work dirs of the dense config\'s seeds (noise floor)')
    parser.add_argument('--stage1-iters', type=int, default=300)
    parser.add_argument('--finetune-iters', type=int, default=300)
    parser.add_argument('--dense-iters', type=int, default=None,
                        help='default: the stock config\'s train_cfg.max_iters')
    parser.add_argument('--skip-latency', action='store_true')
    args = parser.parse_args(argv)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import DATASETS
    from benchmark import machine
    from bicubic_baseline import upsampling_scores

    root = args.root
    cfg = Config.fromfile(args.stock)
    if args.dense_iters is None:
        args.dense_iters = cfg.train_cfg.max_iters
    init_default_scope('mmagic')
    zero = upsampling_scores(DATASETS.build(cfg.val_dataloader.dataset))
    bicubic = zero['bicubic']['PSNR']
    dense = dense_score(args.dense, root, args.stock)
    floor = None
    if args.stock_runs:
        values = [final(d)['PSNR'] for d in args.stock_runs]
        floor = dict(mean=statistics.mean(values), std=statistics.stdev(values) if
                     len(values) > 1 else 0.0, seeds=len(values))
    counts = dict(s1=args.stage1_iters, ft=args.finetune_iters,
                  both=args.stage1_iters + args.finetune_iters,
                  all=args.dense_iters + args.stage1_iters + args.finetune_iters)
    rows = [dict(method='dense (pruned from)', share=1.0, macs_ratio=1.0, params_ratio=1.0,
                 budget=f'{args.dense_iters} dense', spec=None, **dense)]
    specs = []
    for tag, share in TARGETS:
        for label, run, spec_dir, budget, length in METHODS:
            run_dir = osp.join(root, run.format(tag=tag))
            if not osp.isdir(run_dir):
                continue
            if not osp.isfile(osp.join(run_dir, f'iter_{counts[length]}.pth')):
                # Still training (another shell) or killed: not a result yet.
                print(f'{run_dir}: unfinished (no iter_{counts[length]}.pth), left out')
                continue
            report = json.load(open(osp.join(root, spec_dir.format(tag=tag),
                                             'prune_report.json')))
            spec = osp.join(root, spec_dir.format(tag=tag), 'channel_spec.json')
            rows.append(dict(method=label, share=share, macs_ratio=report['macs_ratio'],
                             params_ratio=report['params_ratio'], spec=spec,
                             budget=budget.format(**counts), **final(run_dir)))
            if spec not in specs:
                specs.append(spec)
    latency = {}
    if not args.skip_latency:
        out = osp.join(root, 'latency.json')
        subprocess.run([sys.executable, 'tools/prune_report.py', '--lr-size', '34', '80',
                        '--frames', '25', '--repeats', '5', '--out', out,
                        *[a for s in specs for a in ('--spec', s)]], check=True)
        for row, spec in zip(json.load(open(out))['rows'], [None] + specs):
            latency[spec] = row['ms_per_frame']
    for row in rows:
        row['ms_per_frame'] = latency.get(row['spec'])
    frames = osp.join(root, 'frames.json')
    tf, notf = osp.join(root, 'ssl-tf-p25'), osp.join(root, 'ssl-notf-p25')
    if osp.isdir(tf) and osp.isdir(notf):
        subprocess.run([sys.executable, 'tools/psnr_by_frame.py', args.stock,
                        f'dense={args.dense}', f'SSL 25% + TF={_last(tf)}',
                        f'SSL 25%, no TF={_last(notf)}', '--out', frames,
                        '--plot', osp.join(root, 'frames.png')], check=True)
    lines = [f'Machine: {machine()}. Bicubic {bicubic:.3f} dB on the same clips.']
    if floor:
        lines.append(f"Dense config over {floor['seeds']} seeds: {floor['mean']:.3f} ± "
                     f"{floor['std']:.3f} dB (the noise floor).")
    lines += ['', '| method | target MACs | MACs | params | iterations after dense | '
              'PSNR | vs dense | vs bicubic | ms/frame (LR 34x80, 25 frames) |',
              '|---|---|---|---|---|---|---|---|---|']
    base_ms = rows[0]['ms_per_frame']
    for row in rows:
        ms = row['ms_per_frame']
        speed = f'{ms:.1f} ({base_ms / ms:.2f}x)' if ms and base_ms else '-'
        lines.append(f"| {row['method']} | {row['share']:g} | {row['macs_ratio']:.3f} | "
                     f"{row['params_ratio']:.3f} | {row['budget']} | {row['PSNR']:.3f} | "
                     f"{row['PSNR'] - dense['PSNR']:+.3f} | {row['PSNR'] - bicubic:+.3f} | "
                     f'{speed} |')
    text = '\n'.join(lines)
    print(text)
    with open(osp.join(root, 'report.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(root, 'report.json'), 'w') as f:
        json.dump(dict(bicubic=bicubic, noise_floor=floor, rows=rows), f, indent=1)
    return 0


def _last(run_dir: str) -> str:
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        return f.read().strip()


if __name__ == '__main__':
    sys.exit(main())
