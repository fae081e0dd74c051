"""Test a checkpoint: MMagic's ``tools/test.py`` interface, plus vsr_multigrid."""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.fileio import dump
from mmengine.hooks import Hook
from mmengine.runner import Runner

# The plugin of this checkout, also when the installed one points elsewhere.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import vsr_multigrid  # noqa: E402,F401  (registers the plugin)
from vsr_multigrid.compat.dist import prepare_distributed  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='the file to save metric results')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


class _SaveMetrics(Hook):

    def __init__(self, out):
        self.out = out

    def after_test_epoch(self, runner, metrics=None):
        if metrics is not None:
            dump(metrics, self.out)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    prepare_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    if args.out:
        runner.register_hook(_SaveMetrics(args.out), 'LOWEST')
    return runner.test()


if __name__ == '__main__':
    main()
