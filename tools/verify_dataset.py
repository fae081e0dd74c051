"""Check every frame a config's datasets can load, before a long run.

    python tools/verify_dataset.py configs/multigrid/basicvsr_mg-vsr_tiny_demo.py
    python tools/verify_dataset.py CONFIG --splits train --cfg-options ...

For each dataset (train, val, test) it lists the frames its samples can draw
(REDS-style clips from the annotation file's frame counts, Vimeo-style frame
lists), reports the missing ones, and decodes every present one with OpenCV,
reporting files that do not decode (truncated or corrupt). Exits 1 when
anything is wrong, naming the files. Training itself checks only that the
frames exist (one directory listing per folder), at start-up.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def verify(dataset, log=print, limit: int = 20) -> list:
    """Problems of one dataset: ``'missing: PATH'`` and ``'undecodable: PATH'``."""
    import cv2
    listed = dataset.frame_files()
    missing = set(dataset.missing_frames(listed))
    problems = [f'missing: {p}' for p in sorted(missing)]
    files = [osp.join(folder, name) for folder, names in sorted(listed.items())
             for name in names]
    start = time.perf_counter()
    for count, path in enumerate(files, 1):
        if path in missing:
            continue
        if cv2.imread(path, cv2.IMREAD_UNCHANGED) is None:
            problems.append(f'undecodable: {path}')
        if count % 2000 == 0:
            log(f'  {count}/{len(files)} frames decoded '
                f'({time.perf_counter() - start:.0f} s)')
    for problem in problems[:limit]:
        log(f'  {problem}')
    if len(problems) > limit:
        log(f'  ... and {len(problems) - limit} more')
    log(f'  {len(files)} frames listed, {len(problems)} problem(s)')
    return problems


def main(argv=None):
    from mmengine.config import Config, DictAction
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'],
                        choices=['train', 'val', 'test'])
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value pairs')
    args = parser.parse_args(argv)
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import DATASETS

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    bad = 0
    for split in args.splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset_cfg = dict(loader['dataset'])
        # The stock dataset type with the plugin's frame listing.
        if dataset_cfg.get('type') in ('BasicFramesDataset', 'MultigridFramesDataset'):
            dataset_cfg['type'] = 'MultigridFramesDataset'
        else:
            print(f'{split}: {dataset_cfg.get("type")} is not a frames dataset; skipped')
            continue
        dataset = DATASETS.build(dataset_cfg)
        print(f'{split}: {len(dataset)} samples from {dataset.ann_file or dataset.data_root}')
        bad += len(verify(dataset))
    print('OK' if not bad else f'{bad} problem(s) found')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
