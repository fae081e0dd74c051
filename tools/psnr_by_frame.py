"""PSNR by frame position on a config's validation clips, for several checkpoints.

    python tools/psnr_by_frame.py configs/basicvsr/basicvsr_tiny_demo.py \
        dense=work_dirs/dense/iter_800.pth tf=work_dirs/tf/iter_300.pth --plot frames.png

Each checkpoint is run by the model config saved in it (mmengine writes it
into every checkpoint's meta); ``LABEL=CHECKPOINT@CONFIG`` names another
(e.g. for a ``tools/prune.py`` output before fine-tuning, with
``--cfg-options model.generator.channel_spec=...``). The validation
clips come from CONFIG. For every frame index t it prints the PSNR (RGB,
whole frames, MMagic's ``psnr``) averaged over the clips, with the bicubic
line of the same frames: a recurrent model whose error grows along the
sequence loses ground at late t. A second table gives each clip's whole-clip
PSNR. ``--out`` writes JSON, ``--plot`` a PNG.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


def model_config(checkpoint: str, config_path, options: dict):
    """The config a checkpoint runs with: CONFIG (with ``options``) if given,
    else its saved one."""
    import torch
    from mmengine.config import Config
    if config_path:
        cfg = Config.fromfile(config_path)
        cfg.merge_from_dict(options)
        return cfg
    meta = torch.load(checkpoint, map_location='cpu', weights_only=False).get('meta', {})
    if not meta.get('cfg'):
        raise SystemExit(f'{checkpoint} carries no config: give LABEL={checkpoint}@CONFIG')
    return Config.fromstring(meta['cfg'], '.py')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config whose validation clips are scored')
    parser.add_argument('checkpoints', nargs='+', help='LABEL=CHECKPOINT[@CONFIG]')
    parser.add_argument('--out', help='write the curves as JSON')
    parser.add_argument('--plot', help='write a PNG of PSNR against frame index')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value overrides of CONFIG and of every @CONFIG')
    args = parser.parse_args(argv)
    import cv2
    import numpy as np
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.evaluation.metrics.psnr import psnr
    from mmagic.registry import DATASETS
    from benchmark import parse_cfg_options
    from visualize_sr import predict_clip

    options = parse_cfg_options(args.cfg_options)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(options)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    models = []
    for item in args.checkpoints:
        label, sep, rest = item.partition('=')
        path, _, config_path = rest.partition('@')
        if not sep or not osp.isfile(path):
            parser.error(f'{item!r}: expected LABEL=CHECKPOINT[@CONFIG] with an existing file')
        models.append((label, path, model_config(path, config_path or None, options)))
    curves = {label: [] for label in ['bicubic'] + [m[0] for m in models]}
    keys = []
    for index in range(len(dataset)):
        keys.append(str(dataset.get_data_info(index).get('key', index)))
        sample = dataset[index]
        lr = sample['inputs'].numpy().transpose(0, 2, 3, 1).astype(np.float32)
        gt = np.asarray(sample['data_samples'].gt_img).transpose(0, 2, 3, 1).astype(np.float32)
        h, w = gt.shape[1:3]
        curves['bicubic'].append([psnr(g, np.clip(cv2.resize(x, (w, h),
                                                             interpolation=cv2.INTER_CUBIC),
                                                  0, 255)) for x, g in zip(lr, gt)])
        for label, path, model_cfg in models:
            frames = predict_clip(model_cfg, path, sample)
            curves[label].append([psnr(g, f) for f, g in zip(frames, gt)])
    lengths = {len(c) for clips in curves.values() for c in clips}
    length = min(lengths)  # clips of different lengths: the common prefix
    mean = {label: np.mean([c[:length] for c in clips], axis=0).tolist()
            for label, clips in curves.items()}
    print('| frame | ' + ' | '.join(mean) + ' |')
    print('|---' * (len(mean) + 1) + '|')
    for t in range(length):
        print(f'| {t} | ' + ' | '.join(f'{mean[k][t]:.3f}' for k in mean) + ' |')
    print('| mean | ' + ' | '.join(f'{np.mean(v):.3f}' for v in mean.values()) + ' |')
    # Whole clips, each its own mean: where the gain comes from.
    per_clip = {label: dict(zip(keys, (float(np.mean(c)) for c in clips)))
                for label, clips in curves.items()}
    print('\n| clip | ' + ' | '.join(per_clip) + ' |')
    print('|---' * (len(per_clip) + 1) + '|')
    for key in keys:
        print(f'| {key} | ' + ' | '.join(f'{per_clip[k][key]:.3f}' for k in per_clip) + ' |')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, checkpoints=args.checkpoints,
                           clips=len(dataset), frames=length, psnr_by_frame=mean,
                           psnr_by_clip=per_clip), f, indent=1)
    if args.plot:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4))
        for label, values in mean.items():
            ax.plot(range(length), values, label=label,
                    linestyle='--' if label == 'bicubic' else '-')
        ax.set_xlabel('frame index in the clip')
        ax.set_ylabel(f'PSNR (dB), mean of {len(dataset)} validation clips')
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f'wrote {args.plot}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
