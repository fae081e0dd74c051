"""Print the multigrid schedule a config would train with, without training.

    python tools/print_schedule.py configs/multigrid/basicvsr_mg-vsr_tiny_demo.py

Builds only the training dataset (to read the stock clip length, crop and
frame sizes) and prints the table ``MultigridTrainLoop`` prints at start-up.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', default=None)
    args = parser.parse_args(argv)
    from mmengine.config import Config, DictAction
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import DATASETS
    from vsr_multigrid.engine.loops import min_frames_for_padding, schedule_for

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        parsed = DictAction()
        options = {}
        for item in args.cfg_options:
            key, value = item.split('=', 1)
            options[key] = parsed._parse_iterable(value)
        cfg.merge_from_dict(options)
    if 'curriculum' not in cfg.train_cfg:
        raise SystemExit(f'{args.config} has no train_cfg.curriculum (not a multigrid config)')
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    padding = cfg.model.get('generator', {}).get('padding')
    schedule = schedule_for(cfg.train_cfg.curriculum, dataset,
                            cfg.train_dataloader.batch_size, cfg.train_cfg.max_iters,
                            min_frames_for_padding(padding))
    print(schedule.table())
    return 0


if __name__ == '__main__':
    sys.exit(main())
