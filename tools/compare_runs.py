"""Compare training runs (stock and multigrid) by validation PSNR.

    python tools/compare_runs.py work_dirs/stock work_dirs/multigrid \
        --out work_dirs/compare          # writes compare.md/.json/.png

Reads ``progress.jsonl`` (``ProgressRecorderHook``) and, for curriculum runs,
``curriculum/schedule.json`` from each work dir. The first run is the
reference (the stock run). For every run it reports the final PSNR and its
difference to the reference, the training wall-clock (validation excluded) to
first reach the reference's final PSNR, the realised speed-up (reference time
to that PSNR / run time to it; and whole-run time ratio) and the theoretical
compute ratio of the curriculum.
"""
import argparse
import json
import math
import os
import os.path as osp
import sys


def load_run(path: str, metric: str) -> dict:
    """Read one work dir; later records of the same iteration win (resume)."""
    progress = osp.join(path, 'progress.jsonl')
    if not osp.isfile(progress):
        raise FileNotFoundError(
            f'{progress} not found: was the run trained with ProgressRecorderHook '
            'and validated at least once?')
    by_iter = {}
    with open(progress) as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                by_iter[record['iter']] = record
    records = [by_iter[k] for k in sorted(by_iter)]
    if not records or metric not in records[-1]['metrics']:
        raise ValueError(f'{progress} has no {metric!r} metric; available: '
                         f'{sorted(records[-1]["metrics"]) if records else []}')
    schedule_file = osp.join(path, 'curriculum', 'schedule.json')
    compute_ratio = 1.0
    if osp.isfile(schedule_file):
        with open(schedule_file) as f:
            compute_ratio = float(json.load(f)['compute_ratio'])
    return dict(records=records, compute_ratio=compute_ratio)


def time_to_reach(records, metric: str, target: float):
    """(seconds, samples) of the first validation at or above ``target``."""
    for record in records:
        if record['metrics'][metric] >= target - 1e-9:
            return record['train_seconds'], record['samples_seen']
    return None, None


def _mean(values):
    return sum(values) / len(values)


def _std(values):
    """Sample standard deviation (0 for a single value)."""
    if len(values) < 2:
        return 0.0
    mean = _mean(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _median_reached(values):
    """Median over seeds of a time to target, a seed that never reached it
    counting as infinitely late: None unless more than half of them reached it."""
    value = _median([math.inf if v is None else v for v in values])
    return None if math.isinf(value) else value


def compare(runs: dict, metric: str = 'PSNR', baselines: dict = None) -> list:
    """Rows of the comparison; the first label of ``runs`` is the reference.

    ``runs`` maps a label to one run or to a list of runs (seeds). The
    target is the reference's mean final value minus its seed standard
    deviation (the noise floor; 0 with one seed): a run "reaches the stock"
    when it gets within the stock's own seed noise of its final value.
    Times to target are medians over seeds, a seed that never reached the
    target counting as infinitely late (so defined when more than half
    reached it; the table says how many did). The stock's own seeds below
    ``mean - std`` never reach it, which is why "all seeds" would leave the
    reference undefined. ``baselines`` (``{name: value}``, e.g. bicubic
    upsampling) become rows without training.
    """
    groups = {label: run if isinstance(run, list) else [run] for label, run in runs.items()}
    labels = list(groups)
    ref_finals = [r['records'][-1]['metrics'][metric] for r in groups[labels[0]]]
    floor = _std(ref_finals)
    target = _mean(ref_finals) - floor
    ref_times = [time_to_reach(r['records'], metric, target)[0] for r in groups[labels[0]]]
    ref_time = _median_reached(ref_times)
    ref_total = _mean([r['records'][-1]['train_seconds'] for r in groups[labels[0]]])
    rows = []
    for label in labels:
        seeds = groups[label]
        finals = [r['records'][-1]['metrics'][metric] for r in seeds]
        reached = [time_to_reach(r['records'], metric, target) for r in seeds]
        seconds = _median_reached([t for t, _ in reached])
        samples = _median_reached([n for _, n in reached])
        total = _mean([r['records'][-1]['train_seconds'] for r in seeds])
        theoretical = seeds[0]['compute_ratio']
        rows.append(dict(
            run=label, seeds=len(seeds), final=_mean(finals), final_std=_std(finals),
            final_min=min(finals), final_max=max(finals),
            diff=_mean(finals) - _mean(ref_finals), target=target, noise_floor=floor,
            best=max(max(rec['metrics'][metric] for rec in r['records']) for r in seeds),
            train_seconds=total,
            samples_seen=_mean([r['records'][-1]['samples_seen'] for r in seeds]),
            time_to_target=seconds, samples_to_target=samples,
            reached=sum(t is not None for t, _ in reached),
            speedup_to_target=(ref_time / seconds) if seconds and ref_time else None,
            whole_run_ratio=ref_total / total,
            theoretical_ratio=theoretical,
            realised_share=(ref_total / total) / theoretical))
    for name, value in (baselines or {}).items():
        rows.append(dict(run=name, seeds=0, final=value, final_std=0.0, final_min=value,
                         final_max=value, diff=value - _mean(ref_finals), target=target,
                         noise_floor=floor, best=value, train_seconds=0.0,
                         samples_seen=0, time_to_target=None, samples_to_target=None,
                         reached=0, speedup_to_target=None, whole_run_ratio=None,
                         theoretical_ratio=None, realised_share=None, baseline=True))
    return rows


def to_markdown(rows, metric: str) -> str:
    def fmt(value, spec, suffix=''):
        return '-' if value is None else format(value, spec) + suffix
    floor = rows[0]['noise_floor']
    head = (f'Target: stock final {metric} {rows[0]["final"]:.3f} minus its seed noise '
            f'(std {floor:.3f} dB over {rows[0]["seeds"]} seed(s)) = {rows[0]["target"]:.3f}.\n\n'
            f'| run | seeds | final {metric} (mean ± std) | diff vs stock (dB) | best | '
            f'train s | samples | s to target | speed-up to target | '
            f'whole-run time ratio | theoretical compute ratio | realised share |\n'
            '|---|---|---|---|---|---|---|---|---|---|---|---|\n')
    body = ''
    for r in rows:
        if r.get('baseline'):
            body += (f"| {r['run']} (no training) | - | {r['final']:.3f} | "
                     f"{r['diff']:+.3f} | - | - | - | - | - | - | - | - |\n")
            continue
        reached = '' if r['reached'] == r['seeds'] else f" ({r['reached']}/{r['seeds']} seeds)"
        body += (
            f"| {r['run']} | {r['seeds']} | {r['final']:.3f} ± {r['final_std']:.3f} | "
            f"{r['diff']:+.3f} | {r['best']:.3f} | {r['train_seconds']:.0f} | "
            f"{r['samples_seen']:.0f} | {fmt(r['time_to_target'], '.0f')}{reached} | "
            f"{fmt(r['speedup_to_target'], '.2f', 'x')} | {r['whole_run_ratio']:.2f}x | "
            f"{r['theoretical_ratio']:.2f}x | {100 * r['realised_share']:.0f}% |\n")
    return head + body


def plot(runs: dict, metric: str, path: str, baselines: dict = None) -> None:
    """PSNR against wall-clock and samples; one colour per label, a line per seed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    groups = {label: run if isinstance(run, list) else [run] for label, run in runs.items()}
    for index, (label, seeds) in enumerate(groups.items()):
        color = f'C{index}'
        for seed, run in enumerate(seeds):
            records = run['records']
            values = [r['metrics'][metric] for r in records]
            name = label if seed == 0 else None
            axes[0].plot([r['train_seconds'] for r in records], values, 'o-', color=color,
                         label=name, alpha=0.8, markersize=3)
            axes[1].plot([r['samples_seen'] for r in records], values, 'o-', color=color,
                         label=name, alpha=0.8, markersize=3)
    rows = compare(runs, metric)
    lines = [('stock target', rows[0]['target'], 'gray', ':')]
    lines += [(name, value, 'black', '--') for name, value in (baselines or {}).items()]
    for ax, xlabel in zip(axes, ('training wall-clock (s, validation excluded)',
                                 'samples (clips) seen')):
        for name, value, color, style in lines:
            ax.axhline(value, color=color, linestyle=style, linewidth=1)
            ax.annotate(name, (0, value), xycoords=('axes fraction', 'data'), fontsize=7,
                        va='bottom', color=color)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f'validation {metric} (dB)')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+',
                        help='work dirs, reference (stock) first; LABEL=PATH names a run')
    parser.add_argument('--metric', default='PSNR')
    parser.add_argument('--out', help='folder for compare.md, compare.json, compare.png')
    args = parser.parse_args(argv)
    runs = {}
    for item in args.work_dirs:
        label, _, path = item.rpartition('=') if '=' in item else (None, None, item)
        runs.setdefault(label or osp.basename(osp.normpath(path)), []).append(
            load_run(path, args.metric))
    rows = compare(runs, args.metric)
    table = to_markdown(rows, args.metric)
    print(table)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(osp.join(args.out, 'compare.md'), 'w') as f:
            f.write(table)
        with open(osp.join(args.out, 'compare.json'), 'w') as f:
            json.dump(rows, f, indent=1)
        plot(runs, args.metric, osp.join(args.out, 'compare.png'))
        print(f'wrote {args.out}/compare.md, compare.json, compare.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
