"""BasicSR stock vs multigrid on the demo data, one after the other on this machine.

    python tools/bench_basicsr.py [--out work_dirs/bench_basicsr]

Trains ``configs/basicsr/train_BasicVSR_tiny_demo.yml`` and its multigrid
twin ``train_BasicVSR_mg-vsr-cpu_tiny_demo.yml`` (the same options but the
``multigrid:`` block) with ``python -m vsr_multigrid.basicsr_ext.train``,
validating only at the end so that BasicSR's "Time consumed" is training
alone, and prints a table: training wall-clock, its ratio, final PSNR
(BasicSR's ``calculate_psnr``, RGB, whole frames, as MMagic's) and the
bicubic line of the same clips. Writes ``report.md``/``report.json``.
Run it alone on the machine: it times. Builds the demo LMDBs if missing.
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

RUNS = (('stock', 'configs/basicsr/train_BasicVSR_tiny_demo.yml'),
        ('multigrid', 'configs/basicsr/train_BasicVSR_mg-vsr-cpu_tiny_demo.yml'))


def parse_log(text: str) -> dict:
    """Training seconds ("Time consumed") and the last validation PSNR of a BasicSR log."""
    consumed = re.findall(r'Time consumed: (?:(\d+) days?, )?(\d+):(\d\d):(\d\d)', text)
    psnr = re.findall(r'# psnr: ([0-9.]+)', text)
    if not consumed or not psnr:
        raise ValueError('the BasicSR log has no "Time consumed" or no "# psnr" line')
    days, h, m, s = consumed[-1]
    return dict(train_seconds=int(days or 0) * 86400 + int(h) * 3600 + int(m) * 60 + int(s),
                psnr=float(psnr[-1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='work_dirs/bench_basicsr')
    args = parser.parse_args(argv)
    from benchmark import machine
    os.makedirs(args.out, exist_ok=True)
    subprocess.run([sys.executable, 'tools/make_demo_data.py', '--lmdb'], cwd=REPO, check=True)
    results = {}
    for label, option_file in RUNS:
        log_path = osp.join(args.out, f'{label}.log')
        start = time.time()
        with open(log_path, 'w') as log:
            proc = subprocess.run(
                [sys.executable, '-m', 'vsr_multigrid.basicsr_ext.train', '-opt', option_file,
                 '--force_yml', 'val:val_freq=1000000'],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        with open(log_path) as f:
            text = f.read()
        if proc.returncode:
            raise SystemExit(f'{label} failed; see {log_path}:\n{text[-3000:]}')
        results[label] = dict(parse_log(text), option_file=option_file,
                              process_seconds=time.time() - start)
        print(f'{label}: {results[label]}', flush=True)
    bicubic = subprocess.run([sys.executable, 'tools/bicubic_baseline.py',
                              'configs/basicvsr/basicvsr_tiny_demo.py'], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    bicubic = json.loads(bicubic[bicubic.index('{'):])['bicubic']['PSNR']
    stock = results['stock']
    lines = [f'Machine: {machine()}.', '',
             '| run | training wall-clock (s) | speed-up | final PSNR (dB) | vs stock |',
             '|---|---|---|---|---|']
    for label, r in results.items():
        lines.append(f"| {label} (`{r['option_file']}`) | {r['train_seconds']} | "
                     f"{stock['train_seconds'] / r['train_seconds']:.2f}x | {r['psnr']:.3f} | "
                     f"{r['psnr'] - stock['psnr']:+.3f} |")
    lines.append(f'| bicubic, same clips | - | - | {bicubic:.3f} | '
                 f"{bicubic - stock['psnr']:+.3f} |")
    text = '\n'.join(lines)
    print(text)
    with open(osp.join(args.out, 'report.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(args.out, 'report.json'), 'w') as f:
        json.dump(dict(runs=results, bicubic=bicubic), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
