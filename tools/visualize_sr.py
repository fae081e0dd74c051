"""One validation frame as a person would look at it: bicubic, each model, GT.

    python tools/visualize_sr.py configs/basicvsr/basicvsr_tiny_demo.py \
        stock=work_dirs/demo/stock/iter_150.pth \
        multigrid=work_dirs/demo/multigrid/iter_83.pth --out frame.png

Runs every checkpoint (all of the given config's architecture) on the same
validation clip, takes the same frame from each, and writes a PNG: top row
the whole frame (bicubic upsampling of the LR frame, each model, ground
truth) with the zoomed box drawn, bottom row that box enlarged; each title
carries the frame's PSNR against the ground truth.
"""
import argparse
import copy
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def predict_clip(config, checkpoint: str, sample) -> 'np.ndarray':
    """SR frames (T, H, W, 3) of one dataset sample, float in [0, 255], in the
    channel order the dataset loaded (the order of ``sample``'s GT)."""
    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.runner import load_checkpoint
    from mmagic.registry import MODELS
    model = MODELS.build(config.model)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True, logger='silent')
    model.eval()
    with torch.no_grad():
        # The preprocessor converts the sample's GT in place: keep ours intact.
        data = model.data_preprocessor(pseudo_collate([copy.deepcopy(sample)]), False)
        result = model(**data, mode='predict')[0]
    frames = result.output.pred_img.detach().cpu().numpy()  # T, 3, H, W in [0, 255]
    # In test mode MMagic's DataPreprocessor turns the GT (and the destructed
    # output) into BGR whatever the loaded order; its metric compares the
    # two, so only a picture or a PSNR against the loaded GT needs them back.
    if str(result.metainfo.get('gt_img_output_channel_order', '')).upper() == 'BGR' and \
            str(sample['data_samples'].metainfo.get('gt_channel_order', 'bgr')).upper() == 'RGB':
        frames = frames[:, ::-1]
    return np.clip(frames.transpose(0, 2, 3, 1), 0, 255)


def most_detailed_box(image, size: int):
    """Top-left (y, x) of the ``size`` box with the most GT detail (gradient
    energy), on a grid of half-box steps: where SR differences show."""
    import numpy as np
    gray = image.mean(axis=2)
    energy = np.abs(np.diff(gray, axis=0))[:, :-1] + np.abs(np.diff(gray, axis=1))[:-1, :]
    step = max(1, size // 2)
    best, where = -1.0, (0, 0)
    for y in range(0, max(1, energy.shape[0] - size + 1), step):
        for x in range(0, max(1, energy.shape[1] - size + 1), step):
            value = float(energy[y:y + size, x:x + size].sum())
            if value > best:
                best, where = value, (y, x)
    return where


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config of the checkpoints (architecture, val data)')
    parser.add_argument('checkpoints', nargs='+', help='LABEL=CHECKPOINT')
    parser.add_argument('--out', default='frame.png')
    parser.add_argument('--clip', type=int, default=0, help='validation clip index')
    parser.add_argument('--frame', type=int, default=None, help='frame (default: middle)')
    parser.add_argument('--box', type=int, nargs=3, metavar=('Y', 'X', 'SIZE'),
                        help='zoomed box in GT pixels (default: the most detailed box, 1/3 of the height)')
    args = parser.parse_args(argv)
    import cv2
    import numpy as np
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.evaluation.metrics.psnr import psnr
    from mmagic.registry import DATASETS

    cfg = Config.fromfile(args.config)
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    sample = dataset[args.clip]
    lr = sample['inputs'].numpy().transpose(0, 2, 3, 1).astype(np.float32)
    gt = np.asarray(sample['data_samples'].gt_img).transpose(0, 2, 3, 1).astype(np.float32)
    index = len(gt) // 2 if args.frame is None else args.frame
    height, width = gt.shape[1:3]
    panels = [('bicubic', np.clip(cv2.resize(lr[index], (width, height),
                                             interpolation=cv2.INTER_CUBIC), 0, 255))]
    for item in args.checkpoints:
        label, sep, path = item.partition('=')
        if not sep or not osp.isfile(path):
            parser.error(f'{item!r}: expected LABEL=CHECKPOINT with an existing file')
        panels.append((label, predict_clip(cfg, path, sample)[index]))
    panels.append(('ground truth', gt[index]))
    size = args.box[2] if args.box else max(16, height // 3)
    y, x = args.box[:2] if args.box else most_detailed_box(gt[index], size)
    fig, axes = plt.subplots(2, len(panels), figsize=(3.2 * len(panels), 5.2))
    for column, (label, image) in enumerate(panels):
        title = label if label == 'ground truth' else \
            f'{label}\n{psnr(gt[index], image):.2f} dB'
        axes[0, column].imshow(image.astype(np.uint8))
        axes[0, column].add_patch(Rectangle((x, y), size, size, fill=False, color='yellow'))
        axes[0, column].set_title(title, fontsize=9)
        axes[1, column].imshow(image[y:y + size, x:x + size].astype(np.uint8),
                               interpolation='nearest')
        for ax in axes[:, column]:
            ax.axis('off')
    fig.suptitle(f'validation clip {dataset.get_data_info(args.clip).get("key", args.clip)}, '
                 f'frame {index}', fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
