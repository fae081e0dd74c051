"""Wall-clock of gathered against whole-frame residual blocks, by active share.

    python tools/gather_cost.py --channels 64 --blocks 30 --lr-size 68 160

Runs one routing unit of ``--blocks`` random residual blocks on one LR frame
in ``'sparse'`` mode twice per share of active patches (random patches,
``--patch`` pixels): once forced to gather the active patches, once forced
to run the whole frame, and prints the best of ``--repeats`` of each and
their ratio. That ratio over the active patches' area (whole patches, as a
window costs one even where it overhangs the frame) is what
:func:`vsr_multigrid.routing.blocks.sparse_cost` models: the switch to the
whole frame is right where it meets the measured cost. Run it alone on the machine: it times.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--channels', type=int, default=64)
    parser.add_argument('--blocks', type=int, default=30)
    parser.add_argument('--lr-size', type=int, nargs=2, default=[68, 160], metavar=('H', 'W'))
    parser.add_argument('--patch', type=int, default=16)
    parser.add_argument('--shares', type=float, nargs='+', default=[0.3, 0.5, 0.64, 0.76, 0.88])
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    if any(not 0 < s <= 1 for s in args.shares):
        parser.error('--shares: expected shares of the patches in (0, 1]')
    import torch
    from torch import nn

    from vsr_multigrid.routing import blocks
    from vsr_multigrid.routing.patches import patch_grid

    torch.manual_seed(0)
    channels, height, width, patch = args.channels, *args.lr_size, args.patch
    convs = {f'forward.block{k}.conv{j}': nn.Conv2d(channels, channels, 3, 1, 1)
             for k in range(args.blocks) for j in (1, 2)}
    feat = torch.randn(1, channels, height, width)
    gh, gw = patch_grid(height, width, patch)
    cost = blocks.sparse_cost

    def best(gates, gather):
        # Force the plan's choice: a tiny or huge cost per gathered patch.
        blocks.sparse_cost = (lambda p: 1e-9) if gather else (lambda p: 1e9)
        times = []
        for _ in range(args.repeats + 1):  # the first is a warm-up
            start = time.perf_counter()
            blocks.routed_residual_blocks(convs, 'forward', args.blocks, feat, gates, patch,
                                          'sparse')
            times.append(time.perf_counter() - start)
        return min(times[1:])

    print(f'{channels} channels x {args.blocks} blocks, LR {height}x{width}, '
          f'{patch}-pixel patches ({gh}x{gw}), torch threads {torch.get_num_threads()}')
    print('| active patches | their area / frame | whole ms | gathered ms | gathered / whole | '
          'measured cost per patch area | sparse_cost |')
    print('|---|---|---|---|---|---|---|')
    try:
        with torch.inference_mode():
            for share in args.shares:
                active = torch.randperm(gh * gw)[:max(1, round(share * gh * gw))]
                gates = torch.zeros(gh * gw, dtype=torch.bool)
                gates[active] = True
                gates = gates.view(1, 1, gh, gw)
                # A window costs a whole patch even where it overhangs the frame.
                area = active.numel() * patch ** 2 / (height * width)
                whole, gathered = best(gates, False), best(gates, True)
                print(f'| {share:.2f} | {area:.2f} | {1000 * whole:.1f} | '
                      f'{1000 * gathered:.1f} | {gathered / whole:.2f} | '
                      f'{gathered / whole / area:.2f} | {cost(patch):.2f} |')
    finally:
        blocks.sparse_cost = cost


if __name__ == '__main__':
    main()
