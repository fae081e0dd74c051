"""Shared fixtures: real demo data made from a real video, and launchers."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(REPO, 'tools'))  # report tools are importable in tests
TINY_BASICVSR = osp.join(REPO, 'configs', 'basicvsr', 'basicvsr_tiny_demo.py')
TINY_ICONVSR = osp.join(REPO, 'configs', 'iconvsr', 'iconvsr_tiny_demo.py')

# Test-sized overrides of the tiny config (still the real model and runner).
SMALL = [
    'model.generator.mid_channels=8', 'model.generator.num_blocks=1',
    'model.train_cfg.fix_iter=1',
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=1',
    'train_dataloader.dataset.num_input_frames=4',
    'train_dataloader.dataset.pipeline.4.gt_patch_size=64',
    'default_hooks.logger.interval=1',
]


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    """A small REDS-layout dataset (with LMDB) from the first 36 frames of bikes.mp4."""
    from vsr_multigrid.data.video_to_reds import build_reds_dataset, demo_video_paths
    root = str(tmp_path_factory.mktemp('demo_reds'))
    bikes = [p for p in demo_video_paths() if p.endswith('bikes.mp4')]
    build_reds_dataset(bikes, root, clip_len=12, max_width=320, lmdb=True,
                       max_frames=36)
    return root


@pytest.fixture(scope='session')
def vimeo_data(tmp_path_factory):
    """A small Vimeo-90K-layout set (septuplets + Vid4-style val) from bikes.mp4."""
    from vsr_multigrid.data.video_to_reds import build_vimeo_dataset, demo_video_paths
    root = str(tmp_path_factory.mktemp('demo_vimeo'))
    bikes = [p for p in demo_video_paths() if p.endswith('bikes.mp4')]
    build_vimeo_dataset(bikes, root, seq_len=7, val_len=8, max_width=320, max_frames=36)
    return root


def error_text(log: str) -> str:
    """The raised exception's own message (from its ``XxxError:`` line on).

    mmengine prints the whole config at start-up, so a word of the config is
    always somewhere in the log: tests match the error, not the log.
    """
    lines = log.splitlines()
    for index in range(len(lines) - 1, -1, -1):
        if re.match(r'^([A-Za-z_][\w.]*)?(Error|Exception): ', lines[index]):
            return '\n'.join(lines[index:])
    raise AssertionError(f'no exception in the log:\n{log[-3000:]}')


def run_tool(args, data_root, timeout=900, extra_env=None, check=True):
    """Run a repo tool in a subprocess with the test's Python."""
    env = dict(os.environ, VSR_DEMO_DATA=data_root, PYTHONUNBUFFERED='1',
               OMP_NUM_THREADS='1', PYTHON=sys.executable)
    env['PYTHONPATH'] = REPO + os.pathsep + env.get('PYTHONPATH', '')
    env.update(extra_env or {})
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} exited {proc.returncode}\n--- stdout\n'
                             f'{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-6000:]}')
    return proc


def train(config, work_dir, data_root, options=(), nproc=1, resume=False,
          port=29512, check=True):
    """tools/train.py (nproc=1) or tools/dist_train.sh (nproc>1) on ``config``."""
    opts = ['--work-dir', str(work_dir)] + (['--resume'] if resume else [])
    if options:
        opts += ['--cfg-options', *options]
    if nproc == 1:
        args = [sys.executable, 'tools/train.py', config, *opts]
    else:
        args = ['bash', 'tools/dist_train.sh', config, str(nproc), *opts]
    return run_tool(args, data_root, extra_env={'PORT': str(port)}, check=check)
