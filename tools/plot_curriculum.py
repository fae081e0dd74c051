"""Plot a curriculum run: B, T, S and LR against iteration and wall-clock.

    python tools/plot_curriculum.py work_dirs/multigrid --out curriculum.png

Reads ``<work_dir>/curriculum/rank0.jsonl`` written by ``MultigridTrainLoop``
(one line per iteration: shape, LR and the step's wall-clock seconds).
"""
import argparse
import json
import os.path as osp
import sys


def load_trace(work_dir: str, rank: int = 0) -> list:
    path = osp.join(work_dir, 'curriculum', f'rank{rank}.jsonl')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: was {work_dir} trained with '
                                "train_cfg.type='MultigridTrainLoop'?")
    by_iter = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                by_iter[record['iter']] = record  # a resumed run rewrites iterations
    return [by_iter[k] for k in sorted(by_iter)]


def plot_trace(trace: list, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    iters = [r['iter'] for r in trace]
    clock, total = [], 0.0
    for r in trace:
        total += r['seconds'] or 0.0
        clock.append(total)
    keys = [('batch_size', 'B (per GPU)'), ('num_frames', 'T (frames)'),
            ('crop_size', 'S (GT crop, px)'), ('lr', 'learning rate')]
    fig, axes = plt.subplots(len(keys), 2, figsize=(11, 8), sharex='col')
    for row, (key, label) in enumerate(keys):
        values = [r[key] for r in trace]
        for col, x in enumerate((iters, clock)):
            axes[row][col].step(x, values, where='post')
            axes[row][col].set_ylabel(label)
            axes[row][col].grid(alpha=0.3)
    axes[-1][0].set_xlabel('iteration')
    axes[-1][1].set_xlabel('training wall-clock (s)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir')
    parser.add_argument('--out', help='PNG path (default <work_dir>/curriculum.png)')
    parser.add_argument('--rank', type=int, default=0)
    args = parser.parse_args(argv)
    out = args.out or osp.join(args.work_dir, 'curriculum.png')
    plot_trace(load_trace(args.work_dir, args.rank), out)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
