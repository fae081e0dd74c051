"""Seconds per training step of a config's generator, per batch shape.

    python tools/step_cost.py configs/basicvsr/basicvsr_tiny_demo.py \
        --shapes 4x8x128 4x4x128 2x4x128 4x8x64 --cfg-options model.generator.mid_channels=32

Builds the config's generator (the real MMagic network, no pretrained
weights) and times forward + Charbonnier-like L1 loss + backward + Adam step
on random data of each ``BxTxS`` shape (``S`` the GT crop; LR is ``S /
scale``), after one warm-up step; prints the median, the volume ``B*T*S^2``,
seconds per million GT pixels and, for a generator with a flow network, the
LR size the flow network pads to. Data loading is not included (see
``tools/benchmark.py --throughput`` for the loader). Run it alone on the
machine: it measures wall-clock.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def parse_shape(text: str):
    try:
        batch, frames, crop = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r}: expected BxTxS, e.g. 4x8x128')
    if min(batch, frames, crop) <= 0:
        raise argparse.ArgumentTypeError(f'{text!r}: sizes must be positive')
    return batch, frames, crop


def step_seconds(generator, shape, scale: int, repeats: int, device: str = 'cpu'):
    """Median seconds of ``repeats`` training steps at ``shape`` (after one warm-up)."""
    import torch
    batch, frames, crop = shape
    if crop % scale:
        raise ValueError(f'crop {crop} is not divisible by the scale {scale}')
    params = [p for p in generator.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=1e-4)
    lr = torch.rand(batch, frames, 3, crop // scale, crop // scale, device=device)
    gt = torch.rand(batch, frames, 3, crop, crop, device=device)
    times = []
    for index in range(repeats + 1):
        if device != 'cpu':
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss = (generator(lr) - gt).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device != 'cpu':
            torch.cuda.synchronize()
        if index:  # the first step allocates and picks kernels
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shapes', nargs='+', type=parse_shape, required=True,
                        metavar='BxTxS')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args(argv)
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.registry import MODELS
    from vsr_multigrid.engine.loops import flow_multiple

    from benchmark import parse_cfg_options

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(parse_cfg_options(args.cfg_options))
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    generator_cfg = dict(cfg.model.generator)
    for key in [k for k in generator_cfg if k.endswith('_pretrained')]:
        generator_cfg[key] = None  # timing needs no weights (and none can be fetched)
    generator = MODELS.build(generator_cfg).to(args.device).train()
    scale = int(cfg.get('scale', 4))
    flow = flow_multiple(generator)
    print(f'generator {generator_cfg["type"]} ({sum(p.numel() for p in generator.parameters())} '
          f'parameters), scale {scale}, {torch.get_num_threads()} threads, device {args.device}')
    print('| B | T | S (GT) | LR side | flow works at | volume (M px) | s/step | s per M px |')
    print('|---|---|---|---|---|---|---|---|')
    for shape in args.shapes:
        seconds = step_seconds(generator, shape, scale, args.repeats, args.device)
        batch, frames, crop = shape
        side = crop // scale
        padded = '-' if flow is None else str(-(-side // flow) * flow)
        volume = batch * frames * crop ** 2 / 1e6
        print(f'| {batch} | {frames} | {crop} | {side} | {padded} | {volume:.2f} | '
              f'{seconds:.3f} | {seconds / volume:.3f} |', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
