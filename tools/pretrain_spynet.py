"""Pretrain MMagic's SPyNet on the LR frames of a REDS-layout data set.

    python tools/pretrain_spynet.py --objective synthetic   # demo data, supervised
    python tools/pretrain_spynet.py                         # photometric, ~5 min on 2 cores
    python tools/pretrain_spynet.py --data data/my --iters 3000 --out my_spynet.pth

SPyNet's published weights cannot be downloaded here, and BasicVSR trained
with a randomly initialised SPyNet learns its flow only through the SR loss.
This trains the same network (``mmagic.models.editors.basicvsr.basicvsr_net.SPyNet``)
on the LR frames of the training clips, on random crops of the size BasicVSR
trains on, with one of two objectives:

- ``photometric`` (default): consecutive frames, photometric loss plus
  smoothness (``vsr_multigrid.flow.unsupervised``);
- ``synthetic``: single frames warped by known random flows, end-point error
  (``vsr_multigrid.flow.synthetic``), FlyingChairs-style supervision.

It writes a checkpoint that a config loads with
``model.generator.spynet_pretrained=PATH``, and reports for the held-out
validation clips the photometric error of real consecutive whole LR frames
and the end-point error of fixed synthetic pairs, for zero flow, the initial
network and the trained one, so the gain is measured, not assumed.
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


def synthetic_batches(clips, crop: int, batch: int, max_motion: float, seed: int):
    """Endless (ref, supp, flow, valid) batches of single frames warped by
    known flows, randomly flipped and transposed first."""
    import torch
    from vsr_multigrid.flow.synthetic import synthetic_pair
    frames = [frame for clip in clips for frame in clip if min(frame.shape[1:]) >= crop]
    if not frames:
        raise ValueError(f'no frame has at least {crop} px: lower --crop')
    generator = torch.Generator().manual_seed(seed)
    while True:
        samples = []
        for _ in range(batch):
            frame = frames[int(torch.randint(len(frames), (), generator=generator))]
            flips = torch.rand(3, generator=generator)
            if flips[0] < 0.5:
                frame = frame.flip(2)
            if flips[1] < 0.5:
                frame = frame.flip(1)
            if flips[2] < 0.5:
                frame = frame.transpose(1, 2)
            samples.append(synthetic_pair(frame, crop, max_motion, generator))
        yield tuple(torch.stack(parts) for parts in zip(*samples))


def synthetic_validation_error(flow_net, clips, crop: int, max_motion: float,
                               pairs_per_clip: int = 16) -> float:
    """Mean end-point error (px) on fixed synthetic pairs of the validation
    frames (the same pairs for every network)."""
    import torch
    from vsr_multigrid.flow.synthetic import endpoint_error
    errors = []
    with torch.no_grad():
        for i, clip in enumerate(clips):
            ref, supp, flow, valid = next(synthetic_batches(
                [clip], crop, pairs_per_clip, max_motion, seed=1000 + i))
            pred = flow_net(ref, supp) if flow_net is not None else torch.zeros_like(flow)
            errors.append(float(endpoint_error(pred, flow, valid)))
    return sum(errors) / len(errors)


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
    parser.add_argument('--objective', choices=('photometric', 'synthetic'),
                        default='photometric',
                        help='photometric: real consecutive frames, unsupervised; synthetic: '
                        'frames warped by known random flows, end-point error')
    parser.add_argument('--max-motion', type=float, default=4.0,
                        help='largest synthetic motion in LR px (--objective synthetic)')
    parser.add_argument('--random-init', action='store_true',
                        help="keep SPyNet's random init instead of starting from zero flow")
    parser.add_argument('--out', help='checkpoint (default <data>/spynet_unsupervised.pth)')
    args = parser.parse_args(argv)
    import torch
    from mmagic.models.editors.basicvsr.basicvsr_net import SPyNet
    from vsr_multigrid.flow.synthetic import pretrain_flow_supervised
    from vsr_multigrid.flow.unsupervised import pretrain_flow

    torch.manual_seed(args.seed)
    train_clips = load_clips(args.data, 'train', args.scale)
    val_clips = load_clips(args.data, 'val', args.scale)
    spynet = SPyNet(pretrained=None)
    if not args.random_init:
        zero_last_layers(spynet)
    def errors(net):
        return dict(photometric=validation_error(net, val_clips),
                    endpoint=synthetic_validation_error(net, val_clips, args.crop,
                                                        args.max_motion))

    spynet.eval()
    before = dict(zero_flow=errors(None), initial=errors(spynet))
    print(f'validation photometric error: zero flow {before["zero_flow"]["photometric"]:.4f}, '
          f'initial SPyNet {before["initial"]["photometric"]:.4f}; synthetic end-point error '
          f'(px): zero flow {before["zero_flow"]["endpoint"]:.3f}, initial SPyNet '
          f'{before["initial"]["endpoint"]:.3f}', flush=True)
    start = time.perf_counter()
    log = lambda m: print(m, flush=True)  # noqa: E731
    if args.objective == 'synthetic':
        batches = synthetic_batches(train_clips, args.crop, args.batch, args.max_motion,
                                    args.seed)
        history = pretrain_flow_supervised(spynet, batches, args.iters, lr=args.lr, log=log)
    else:
        pairs = random_pairs(train_clips, args.crop, args.batch, random.Random(args.seed))
        history = pretrain_flow(spynet, pairs, args.iters, lr=args.lr,
                                smoothness=args.smoothness, log=log)
    seconds = time.perf_counter() - start
    spynet.eval()
    after = errors(spynet)
    print(f'validation after {args.iters} iterations ({seconds:.0f} s): photometric error '
          f'{after["photometric"]:.4f}, synthetic end-point error {after["endpoint"]:.3f} px',
          flush=True)
    default_name = ('spynet_synthetic.pth' if args.objective == 'synthetic'
                    else 'spynet_unsupervised.pth')
    out = args.out or osp.join(args.data, default_name)
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
