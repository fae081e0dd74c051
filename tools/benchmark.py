"""Train configs side by side on the same data and compare them.

    python tools/benchmark.py \
        stock=configs/basicvsr/basicvsr_tiny_demo.py \
        mg-vsr=configs/multigrid/basicvsr_mg-vsr_tiny_demo.py \
        --work-root work_dirs/bench --out work_dirs/bench/report

Each LABEL=CONFIG is trained from scratch with ``tools/train.py`` (the real
launcher, one after the other on the same machine), then the runs are
compared by ``tools/compare_runs.py`` (the first run is the reference).
``--seeds 0 1 2`` trains each run once per seed (``--seeded stock mg-vsr``
limits that to some labels): the reference's seed spread is the noise floor
every difference is stated against, and the time to target is the median
over seeds. The report also carries the zero line: bicubic and bilinear
upsampling of the same validation clips (``tools/bicubic_baseline.py``). Per
run it also reports seconds per iteration, peak memory, and how long the
training loop waited for data (mmengine's ``data_time`` / ``time``), which
says whether the loader kept up. ``--throughput`` additionally measures, for
each config, the loader alone against the model alone on the first
(smallest, for a curriculum) batch shape.
"""
import argparse
import glob
import json
import os
import os.path as osp
import platform
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import compare_runs  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def loop_wait_share(work_dir: str) -> dict:
    """Mean data_time, time and their ratio from mmengine's scalars.json."""
    data, total = [], []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'data_time' in record and 'time' in record:
                    data.append(record['data_time'])
                    total.append(record['time'])
    if not total:
        return dict(data_time=None, iter_time=None, wait_share=None)
    mean_data, mean_total = sum(data) / len(data), sum(total) / len(total)
    return dict(data_time=mean_data, iter_time=mean_total,
                wait_share=mean_data / mean_total)


def shape_costs(work_dir: str) -> list:
    """Measured cost of each batch shape of a curriculum run.

    From the loop's trace (``curriculum/rank0.jsonl``: shape and seconds of
    every iteration, the first iteration of each shape left out as warm-up):
    per (B, T, S) the median seconds per iteration, the batch volume
    ``B*T*S^2`` and the seconds per million GT pixels, which shows what a
    small shape really saves (SPyNet resizes LR inputs up to multiples of 32).
    """
    import statistics
    path = osp.join(work_dir, 'curriculum', 'rank0.jsonl')
    if not osp.isfile(path):
        return []
    seconds = {}
    with open(path) as f:
        for line in f:
            record = json.loads(line)
            if record.get('seconds') is None:
                continue
            key = (record['batch_size'], record['num_frames'], record['crop_size'])
            seconds.setdefault(key, []).append(record['seconds'])
    rows = []
    for (batch, frames, crop), values in seconds.items():
        values = values[1:] or values
        median = statistics.median(values)
        volume = batch * frames * crop ** 2
        rows.append(dict(batch=batch, frames=frames, crop=crop, iters=len(values),
                         s_per_iter=median, volume=volume,
                         s_per_mpixel=median / (volume / 1e6)))
    return rows


def parse_cfg_options(options) -> dict:
    """``key=value`` strings parsed as ``tools/train.py --cfg-options`` parses them."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--options', nargs='+', action=DictAction)
    return parser.parse_args(['--options', *options]).options if options else {}


def measure_throughput(config: str, work_dir: str, batches: int = 6,
                       cfg_options=()) -> dict:
    """Loader alone vs model alone (samples/s) on the config's first batches."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    import vsr_multigrid  # noqa: F401

    cfg = Config.fromfile(config)
    cfg.merge_from_dict(parse_cfg_options(cfg_options))
    cfg.work_dir = work_dir
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    runner = Runner.from_cfg(cfg)
    loop = runner.build_train_loop(cfg.train_cfg)
    iterator = iter(loop.dataloader)
    first = next(iterator)  # worker start-up is not throughput
    start = time.perf_counter()
    samples = 0
    for _ in range(batches):
        samples += len(next(iterator)['inputs'])
    loader_rate = samples / (time.perf_counter() - start)
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    model = runner.model
    model.train()
    model.train_step(first, optim_wrapper)  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        model.train_step(first, optim_wrapper)
    model_rate = batches * len(first['inputs']) / (time.perf_counter() - start)
    shape = tuple(first['inputs'][0].shape)
    del iterator
    return dict(shape=dict(batch=len(first['inputs']), frames=shape[0],
                           lr_h=shape[2], lr_w=shape[3]),
                loader_samples_per_s=loader_rate, model_samples_per_s=model_rate,
                loader_over_model=loader_rate / model_rate)


_PROGRESS = re.compile(r'Iter\((train|val)\)\s*\[\s*(\d+)/(\d+)\]')
_ETA = re.compile(r'eta: (\S+)')


def run_with_progress(cmd, log_path: str, label: str) -> None:
    """Run ``cmd``, its whole output to ``log_path``, progress to the console.

    The console gets the training iteration and mmengine's ETA at every
    logged iteration, the validation metrics, and any error.
    """
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, bufsize=1)
        tail = []
        for line in proc.stdout:
            log.write(line)
            tail = (tail + [line])[-40:]
            match = _PROGRESS.search(line)
            if match and match.group(1) == 'train':
                eta = _ETA.search(line)
                eta = f', eta {eta.group(1)}' if eta else ''
                print(f'[benchmark] {label}: iteration {match.group(2)}/{match.group(3)}'
                      f'{eta}', flush=True)
            elif 'Iter(val)' in line and 'PSNR' in line:
                print(f'[benchmark] {label}: validation {line.split("Iter(val)")[-1].strip()}',
                      flush=True)
        if proc.wait() != 0:
            sys.stdout.write(''.join(tail))
            raise subprocess.CalledProcessError(proc.returncode, cmd)


def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f
                       if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'
    return f'{cpu}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}'


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', help='LABEL=CONFIG, reference first')
    parser.add_argument('--work-root', default='work_dirs/bench')
    parser.add_argument('--out', help='report folder (default <work-root>/report)')
    parser.add_argument('--reuse', action='store_true',
                        help='keep finished work dirs instead of retraining')
    parser.add_argument('--throughput', action='store_true',
                        help='also measure loader vs model throughput')
    parser.add_argument('--cfg-options', nargs='+', action='extend', default=[],
                        help='options passed to every training run (repeated '
                        '--cfg-options add up; a later value of a key wins)')
    parser.add_argument('--seeds', nargs='+', type=int, default=None,
                        help='train each run once per seed (randomness.seed); the '
                        "reference's spread is the noise floor of every comparison")
    parser.add_argument('--seeded', nargs='+', default=None, metavar='LABEL',
                        help='labels that get all --seeds (default: all); the others '
                        'train with the first seed only')
    parser.add_argument('--no-baseline', action='store_true',
                        help='skip the bicubic/bilinear line of the validation clips')
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    out = args.out or osp.join(args.work_root, 'report')
    os.makedirs(out, exist_ok=True)
    labels = {}
    for item in args.runs:
        label, sep, config = item.partition('=')
        if not sep or not osp.isfile(config):
            parser.error(f'{item!r}: expected LABEL=CONFIG with an existing config file')
        labels[label] = config
    for label in args.seeded or ():
        if label not in labels:
            parser.error(f'--seeded {label!r}: not one of the runs {list(labels)}')
    report = dict(machine=machine(), command=' '.join([sys.executable] + sys.argv),
                  runs={})
    if not args.no_baseline:
        import bicubic_baseline
        scores = bicubic_baseline.config_scores(
            next(iter(labels.values())), parse_cfg_options(args.cfg_options))
        report['baselines'] = {m: dict(PSNR=v['PSNR'], SSIM=v['SSIM'])
                               for m, v in scores.items()}
    work_dirs = {}  # label -> [work dir per seed]
    for label, config in labels.items():
        seeds = [None] if args.seeds is None else (
            args.seeds if args.seeded is None or label in args.seeded else args.seeds[:1])
        for seed in seeds:
            name = label if seed is None else f'{label}-s{seed}'
            work_dir = osp.join(args.work_root, name)
            work_dirs.setdefault(label, []).append(work_dir)
            options = list(args.cfg_options) + (
                [] if seed is None else [f'randomness.seed={seed}'])
            done = osp.isfile(osp.join(work_dir, 'progress.jsonl'))
            if not (args.reuse and done):
                shutil.rmtree(work_dir, ignore_errors=True)
                cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
                       '--work-dir', work_dir]
                if options:
                    cmd += ['--cfg-options', *options]
                print(f'[benchmark] training {name}: {" ".join(cmd)}', flush=True)
                start = time.perf_counter()
                run_with_progress(cmd, osp.join(args.work_root, f'{name}.log'), name)
                print(f'[benchmark] {name} done in {time.perf_counter() - start:.0f} s',
                      flush=True)
            records = compare_runs.load_run(work_dir, 'PSNR')['records']
            last = records[-1]
            entry = dict(config=config, seed=seed, iters=last['iter'],
                         s_per_iter=last['train_seconds'] / max(last['iter'], 1),
                         max_rss_mb=last.get('max_rss_mb'),
                         cuda_max_allocated_mb=last.get('cuda_max_allocated_mb'),
                         **loop_wait_share(work_dir))
            entry['shape_costs'] = shape_costs(work_dir)
            if args.throughput and seed in (None, seeds[0]):
                entry['throughput'] = measure_throughput(
                    config, osp.join(args.work_root, f'{label}_throughput'),
                    cfg_options=args.cfg_options)
            report['runs'][name] = entry
    runs = {label: [compare_runs.load_run(d, 'PSNR') for d in dirs]
            for label, dirs in work_dirs.items()}
    baselines = {m: v['PSNR'] for m, v in report.get('baselines', {}).items()}
    rows = compare_runs.compare(runs, 'PSNR', baselines)
    report['comparison'] = rows
    table = compare_runs.to_markdown(rows, 'PSNR')
    compare_runs.plot(runs, 'PSNR', osp.join(out, 'compare.png'), baselines)
    lines = ['| run | iters | s/iter | loop waited for data | peak RSS (MB) | peak CUDA (MB) |',
             '|---|---|---|---|---|---|']
    for label, entry in report['runs'].items():
        share = entry['wait_share']
        lines.append(f"| {label} | {entry['iters']} | {entry['s_per_iter']:.2f} | "
                     f"{'-' if share is None else f'{100 * share:.1f}%'} | "
                     f"{entry['max_rss_mb']} | {entry['cuda_max_allocated_mb'] or '-'} |")
        if 'throughput' in entry:
            t = entry['throughput']
            lines.append(f"|  ↳ throughput at {t['shape']} | loader "
                         f"{t['loader_samples_per_s']:.1f} samples/s | model "
                         f"{t['model_samples_per_s']:.1f} samples/s | loader/model "
                         f"{t['loader_over_model']:.1f}x | | |")
    costs = ['', '| run | B | T | S (GT) | iters | median s/iter | volume B*T*S^2 (M px) | '
             's per M px |', '|---|---|---|---|---|---|---|---|']
    for label, entry in report['runs'].items():
        for c in sorted(entry.get('shape_costs', []), key=lambda c: c['volume']):
            costs.append(f"| {label} | {c['batch']} | {c['frames']} | {c['crop']} | "
                         f"{c['iters']} | {c['s_per_iter']:.2f} | {c['volume'] / 1e6:.2f} | "
                         f"{c['s_per_mpixel']:.3f} |")
    lines += costs if len(costs) > 3 else []
    text = (f"Machine: {report['machine']}\n\nCommand: `{report['command']}`\n\n"
            + table + '\n' + '\n'.join(lines) + '\n')
    print(text)
    with open(osp.join(out, 'report.md'), 'w') as f:
        f.write(text)
    with open(osp.join(out, 'report.json'), 'w') as f:
        json.dump(report, f, indent=1)
    print(f'[benchmark] wrote {out}/report.md, report.json, compare.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
