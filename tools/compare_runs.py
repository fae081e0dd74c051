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


def compare(runs: dict, metric: str = 'PSNR') -> list:
    """Rows of the comparison; the first run of ``runs`` is the reference."""
    labels = list(runs)
    ref = runs[labels[0]]['records']
    target = ref[-1]['metrics'][metric]
    ref_time, _ = time_to_reach(ref, metric, target)
    ref_total = ref[-1]['train_seconds']
    rows = []
    for label in labels:
        run = runs[label]
        records = run['records']
        final = records[-1]['metrics'][metric]
        seconds, samples = time_to_reach(records, metric, target)
        rows.append(dict(
            run=label, final=final, diff=final - target,
            best=max(r['metrics'][metric] for r in records),
            train_seconds=records[-1]['train_seconds'],
            samples_seen=records[-1]['samples_seen'],
            time_to_target=seconds, samples_to_target=samples,
            speedup_to_target=(ref_time / seconds) if seconds else None,
            whole_run_ratio=ref_total / records[-1]['train_seconds'],
            theoretical_ratio=run['compute_ratio']))
    return rows


def to_markdown(rows, metric: str) -> str:
    def fmt(value, spec):
        return '-' if value is None else format(value, spec)
    head = (f'| run | final {metric} | diff vs stock (dB) | best | train s | '
            f'samples | s to stock final | speed-up to stock final | '
            f'whole-run time ratio | theoretical compute ratio |\n'
            '|---|---|---|---|---|---|---|---|---|---|\n')
    body = ''.join(
        f"| {r['run']} | {r['final']:.3f} | {r['diff']:+.3f} | {r['best']:.3f} | "
        f"{r['train_seconds']:.0f} | {r['samples_seen']} | "
        f"{fmt(r['time_to_target'], '.0f')} | {fmt(r['speedup_to_target'], '.2f')}x | "
        f"{r['whole_run_ratio']:.2f}x | {r['theoretical_ratio']:.2f}x |\n"
        for r in rows)
    return head + body


def plot(runs: dict, metric: str, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for label, run in runs.items():
        records = run['records']
        values = [r['metrics'][metric] for r in records]
        axes[0].plot([r['train_seconds'] for r in records], values, 'o-', label=label)
        axes[1].plot([r['samples_seen'] for r in records], values, 'o-', label=label)
    target = next(iter(runs.values()))['records'][-1]['metrics'][metric]
    for ax, xlabel in zip(axes, ('training wall-clock (s, validation excluded)',
                                 'samples (clips) seen')):
        ax.axhline(target, color='gray', linestyle=':', label='stock final')
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f'validation {metric} (dB)')
        ax.grid(alpha=0.3)
    axes[0].legend()
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
        runs[label or osp.basename(osp.normpath(path))] = load_run(path, args.metric)
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
