"""Pretrain MMagic's SPyNet on the LR frames of a REDS-layout data set, unsupervised.

    python tools/pretrain_spynet.py                         # demo data, ~5 min on 2 cores
    python tools/pretrain_spynet.py --data data/my --iters 3000 --out my_spynet.pth

SPyNet's published weights cannot be downloaded here, and BasicVSR trained
with a randomly initialised SPyNet learns its flow only through the SR loss.
This trains the same network (``mmagic.models.editors.basicvsr.basicvsr_net.SPyNet``)
on consecutive LR frames of the training clips with a photometric loss
(``vsr_multigrid.flow.unsupervised``), on random crops of the size BasicVSR
trains on, and writes a checkpoint that a config loads with
``model.generator.spynet_pretrained=PATH``. It reports the photometric error
of the held-out validation clips (whole LR frames) for zero flow, the
initial network and the trained one, so the gain is measured, not assumed.
"""
import argparse
import json
import os
import os.path as osp
import random
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def load_clips(root: str, split: str, scale: int):
    """LR frames of every clip of ``meta_info_<split>.txt``: list of (T, 3, h, w) in [0, 1]."""
    import cv2
    import numpy as np
    import torch
    meta = osp.join(root, f'meta_info_{split}.txt')
    if not osp.isfile(meta):
        raise FileNotFoundError(f'{meta} not found: --data must be a REDS-layout data set '
                                '(tools/make_demo_data.py)')
    clips = []
    with open(meta) as f:
        for line in f:
            if not line.strip():
                continue
            clip, count = line.split()[:2]
            frames = []
            for i in range(int(count)):
                path = osp.join(root, 'train_sharp_bicubic', f'X{scale}', clip, f'{i:08d}.png')
                image = cv2.imread(path, cv2.IMREAD_COLOR)
                if image is None:
                    raise ValueError(f'cannot read frame {path}')
                frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            clips.append(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255)
    return clips


def random_pairs(clips, crop: int, batch: int, generator: random.Random):
    """Endless batches of (ref, supp) consecutive-frame crops, randomly flipped,
    transposed and reversed in time (BasicVSR uses both directions)."""
    import torch
    usable = [c for c in clips if c.shape[0] >= 2 and min(c.shape[2:]) >= crop]
    if not usable:
        raise ValueError(f'no clip has 2 frames of at least {crop} px: lower --crop')
    while True:
        refs, supps = [], []
        for _ in range(batch):
            clip = generator.choice(usable)
            t = generator.randrange(clip.shape[0] - 1)
            y = generator.randrange(clip.shape[2] - crop + 1)
            x = generator.randrange(clip.shape[3] - crop + 1)
            pair = clip[t:t + 2, :, y:y + crop, x:x + crop]
            if generator.random() < 0.5:
                pair = pair.flip(3)
            if generator.random() < 0.5:
                pair = pair.flip(2)
            if generator.random() < 0.5:
                pair = pair.transpose(2, 3)
            if generator.random() < 0.5:
                pair = pair.flip(0)
            refs.append(pair[0])
            supps.append(pair[1])
        yield torch.stack(refs), torch.stack(supps)


def zero_last_layers(spynet) -> None:
    """Start from zero flow: the last conv of every pyramid level outputs 0.

    A randomly initialised SPyNet predicts large random flows (its warped
    frames are far worse than no warping at all), and the photometric loss
    does not recover from that start; from zero flow it only has to learn
    the residual motion.
    """
    import torch
    for module in spynet.basic_module:
        last = module.basic_module[-1].conv
        torch.nn.init.zeros_(last.weight)
        torch.nn.init.zeros_(last.bias)


def validation_error(flow_net, clips) -> float:
    """Mean photometric error over consecutive whole frames of ``clips``."""
    import torch
    from vsr_multigrid.flow.unsupervised import photometric_loss
    errors = []
    with torch.no_grad():
        for clip in clips:
            ref, supp = clip[:-1], clip[1:]
            flow = flow_net(ref, supp) if flow_net is not None else ref.new_zeros(
                ref.shape[0], 2, *ref.shape[2:])
            errors.append(float(photometric_loss(ref, supp, flow)))
    return sum(errors) / len(errors)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default=os.environ.get('VSR_DEMO_DATA', 'data/demo_reds'))
    parser.add_argument('--scale', type=int, default=4)
    parser.add_argument('--crop', type=int, default=32, help='LR crop side (BasicVSR: 32 here)')
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--iters', type=int, default=1500)
    parser.add_argument('--lr', type=float, default=1e-4)
    parser.add_argument('--smoothness', type=float, default=0.05)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--random-init', action='store_true',
                        help="keep SPyNet's random init instead of starting from zero flow")
    parser.add_argument('--out', help='checkpoint (default <data>/spynet_unsupervised.pth)')
    args = parser.parse_args(argv)
    import torch
    from mmagic.models.editors.basicvsr.basicvsr_net import SPyNet
    from vsr_multigrid.flow.unsupervised import pretrain_flow

    torch.manual_seed(args.seed)
    train_clips = load_clips(args.data, 'train', args.scale)
    val_clips = load_clips(args.data, 'val', args.scale)
    spynet = SPyNet(pretrained=None)
    if not args.random_init:
        zero_last_layers(spynet)
    before = dict(zero_flow=validation_error(None, val_clips),
                  initial=validation_error(spynet, val_clips))
    print(f'validation photometric error: zero flow {before["zero_flow"]:.4f}, '
          f'initial SPyNet {before["initial"]:.4f}', flush=True)
    start = time.perf_counter()
    pairs = random_pairs(train_clips, args.crop, args.batch, random.Random(args.seed))
    history = pretrain_flow(spynet, pairs, args.iters, lr=args.lr,
                            smoothness=args.smoothness,
                            log=lambda m: print(m, flush=True))
    seconds = time.perf_counter() - start
    spynet.eval()
    after = validation_error(spynet, val_clips)
    print(f'validation photometric error after {args.iters} iterations '
          f'({seconds:.0f} s): {after:.4f}', flush=True)
    out = args.out or osp.join(args.data, 'spynet_unsupervised.pth')
    # Only the network's weights: SPyNet loads them (strict) before it
    # registers its normalisation buffers.
    state = {k: v for k, v in spynet.state_dict().items() if k.startswith('basic_module.')}
    meta = dict(vars(args), seconds=seconds, val_error=dict(before, trained=after),
                final_train_loss=sum(history[-100:]) / len(history[-100:]))
    torch.save(dict(state_dict=state, meta=meta), out)
    with open(osp.splitext(out)[0] + '.json', 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
