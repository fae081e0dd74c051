"""Print the multigrid schedule a config would train with, without training.

    python tools/print_schedule.py configs/multigrid/basicvsr_mg-vsr_tiny_demo.py
    python tools/print_schedule.py CONFIG --cfg-options train_cfg.max_iters=3000
    python tools/print_schedule.py CONFIG --frame-size 720 1280   # no data needed

Reads the stock clip length, crop and scale from the config's training
dataset (built lazily: no frame is listed or loaded) and prints the table
``MultigridTrainLoop`` prints at start-up. Crops are checked against the
smallest frame side of the annotation file when it exists, or against
``--frame-size``; without either they are not checked (training checks them).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def main(argv=None):
    from mmengine.config import Config, DictAction
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value pairs')
    parser.add_argument('--frame-size', nargs=2, type=int, metavar=('H', 'W'),
                        help='GT frame size to check crops against when the data '
                        'is not on this machine')
    args = parser.parse_args(argv)
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import DATASETS, MODELS
    from vsr_multigrid.engine.loops import (generator_flow_multiple, min_frames_for_padding,
                                            schedule_for)

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'curriculum' not in cfg.train_cfg:
        raise SystemExit(f'{args.config} has no train_cfg.curriculum (not a multigrid config)')
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, lazy_init=True))
    frame_side = min(args.frame_size) if args.frame_size else dataset.min_frame_side()
    generator = cfg.model.get('generator', {})
    generator_class = MODELS.get(generator.get('type', ''))
    schedule = schedule_for(cfg.train_cfg.curriculum, dataset,
                            cfg.train_dataloader.batch_size, cfg.train_cfg.max_iters,
                            min_frames_for_padding(generator.get('padding')),
                            frame_side=frame_side,
                            model_flow_multiple=generator_flow_multiple(generator_class)
                            if generator_class else None)
    print(schedule.table())
    if frame_side is None:
        print('note: crops not checked against the frame size (no annotation file '
              'with frame sizes found; pass --frame-size H W)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
