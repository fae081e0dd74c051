"""The zero line: PSNR/SSIM of plain upsampling on a config's validation clips.

    python tools/bicubic_baseline.py configs/basicvsr/basicvsr_tiny_demo.py

Loads the validation clips exactly as the config's ``val_dataloader`` does
(same LR and GT frames), upsamples each LR frame with OpenCV (bicubic and
bilinear, RGB, whole frames) and scores it with MMagic's own ``psnr`` and
``ssim`` functions, averaged per clip and then over clips as MMagic's
``PSNR``/``SSIM`` metrics average them. A model that has learned something
beats bicubic; one that ends near bilinear has learned little more than its
own bilinear skip path. Prints JSON, or writes it with ``--out``.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

INTERPOLATIONS = ('bicubic', 'bilinear')


def upsampling_scores(dataset, scale: int = 4) -> dict:
    """``{method: {'PSNR': dB, 'SSIM': value, 'clips': {key: dB}}}``."""
    import cv2
    import numpy as np
    from mmagic.evaluation.metrics.psnr import psnr
    from mmagic.evaluation.metrics.ssim import ssim

    flags = dict(bicubic=cv2.INTER_CUBIC, bilinear=cv2.INTER_LINEAR)
    totals = {m: dict(PSNR=[], SSIM=[], clips={}) for m in INTERPOLATIONS}
    for index in range(len(dataset)):
        sample = dataset[index]
        lr = sample['inputs'].numpy().transpose(0, 2, 3, 1).astype(np.float32)  # T,h,w,C
        gt = sample['data_samples'].gt_img
        gt = np.asarray(gt).transpose(0, 2, 3, 1).astype(np.float32)  # T,H,W,C
        key = dataset.get_data_info(index).get('key', str(index))
        for method, flag in flags.items():
            frame_psnr, frame_ssim = [], []
            for lr_frame, gt_frame in zip(lr, gt):
                h, w = gt_frame.shape[:2]
                up = np.clip(cv2.resize(lr_frame, (w, h), interpolation=flag), 0, 255)
                frame_psnr.append(psnr(gt_frame, up))
                frame_ssim.append(ssim(gt_frame, up))
            totals[method]['PSNR'].append(float(np.mean(frame_psnr)))
            totals[method]['SSIM'].append(float(np.mean(frame_ssim)))
            totals[method]['clips'][str(key)] = totals[method]['PSNR'][-1]
    return {m: dict(PSNR=float(np.mean(v['PSNR'])), SSIM=float(np.mean(v['SSIM'])),
                    clips=v['clips']) for m, v in totals.items()}


def config_scores(config: str, cfg_options=None, split: str = 'val') -> dict:
    """Upsampling scores on the ``<split>_dataloader`` dataset of ``config``."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import DATASETS
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    dataset = DATASETS.build(cfg[f'{split}_dataloader']['dataset'])
    return upsampling_scores(dataset)


def main(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--split', default='val', choices=('val', 'test'))
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--out', help='write the scores as JSON here')
    args = parser.parse_args(argv)
    scores = config_scores(args.config, args.cfg_options, args.split)
    text = json.dumps(scores, indent=1)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
