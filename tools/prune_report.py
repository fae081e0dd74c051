"""Cost of pruned BasicVSRs/IconVSRs: parameters, MACs per layer group, latency per frame.

    python tools/prune_report.py --mid-channels 64 --num-blocks 30 \
        --macs 0.5 0.25 --modes aligned rsc --lr-size 64 112 --frames 10
    python tools/prune_report.py --arch iconvsr --macs 0.25 --frames 10
    python tools/prune_report.py --spec DIR/channel_spec.json --lr-size 34 80

For each stream layout and each MAC share it builds the dense MMagic
``BasicVSRNet`` (``IconVSRNet``) and a ``PrunedBasicVSRNet``
(``PrunedIconVSRNet``) with that share of the convs' multiply-adds (channels
chosen by filter norm of the dense weights: timing does not depend on which
channels are kept), or the models of given channel specs (after the dense
model they were cut from), and reports parameters (SPyNet apart), MACs per LR
frame per layer group (SPyNet counted at the size it pads to; IconVSR's EDVR,
not pruned, apart by its parameters; its refill convs at the keyframe share),
and the median inference latency per frame over ``--repeats`` rounds on a
``--frames`` clip after one warm-up round. All models run round-robin in each
round and the speed-up is the median of the per-round ratios to the first
row, so a machine whose speed drifts slows both sides of every ratio alike.
Run it alone on the machine: it measures wall-clock. Quality of a pruned checkpoint comes from ``tools/test.py`` (the
stock evaluator).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from timing import interleaved_timing  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--arch', choices=('basicvsr', 'iconvsr'), default='basicvsr')
    parser.add_argument('--mid-channels', type=int, default=64)
    parser.add_argument('--num-blocks', type=int, default=30)
    parser.add_argument('--macs', type=float, nargs='+', default=[0.5, 0.25],
                        help='shares of the dense convs\' MACs to build')
    parser.add_argument('--modes', nargs='+', choices=('aligned', 'rsc'),
                        default=['aligned', 'rsc'])
    parser.add_argument('--round-to', type=int, default=1)
    parser.add_argument('--spec', action='append', default=[],
                        help='report this channel spec instead (repeatable)')
    parser.add_argument('--lr-size', type=int, nargs=2, default=[64, 64], metavar=('H', 'W'))
    parser.add_argument('--frames', type=int, default=10)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cudnn-benchmark', action='store_true',
                        help='let cuDNN time its algorithms per shape (the warm-up round '
                        'absorbs the search), as env_cfg.cudnn_benchmark does in training')
    parser.add_argument('--out', help='write the rows as JSON here')
    args = parser.parse_args(argv)
    if any(not 0 < m <= 1 for m in args.macs):
        parser.error('--macs: shares must be in (0, 1]')
    return args


def spynet_macs(spynet, height: int, width: int) -> int:
    """Multiply-adds of one SPyNet call on an LR pair (it pads to multiples of 32)."""
    import torch
    total = []

    def hook(module, inputs, output):
        total.append(output.shape[2] * output.shape[3] * module.in_channels
                     * module.out_channels * module.kernel_size[0] * module.kernel_size[1]
                     // module.groups)
    handles = [m.register_forward_hook(hook) for m in spynet.modules()
               if isinstance(m, torch.nn.Conv2d)]
    with torch.inference_mode():
        spynet(torch.zeros(1, 3, height, width), torch.zeros(1, 3, height, width))
    for h in handles:
        h.remove()
    return sum(total)


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet
    from mmagic.models.editors.iconvsr.iconvsr_net import IconVSRNet
    from vsr_multigrid.engine.pruning import (PrunedBasicVSRNet, PrunedIconVSRNet,
                                              generator_convs)
    from vsr_multigrid.pruning import basicvsr as core
    from vsr_multigrid.pruning.select import choose_kept
    from vsr_multigrid.pruning.spec import ChannelSpec
    init_default_scope('mmagic')
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.manual_seed(0)
    height, width = args.lr_size
    pixels = height * width
    rows, nets = [], []

    dense_types = {'basicvsr': BasicVSRNet, 'iconvsr': IconVSRNet}
    pruned_types = {'BasicVSRNet': PrunedBasicVSRNet, 'IconVSRNet': PrunedIconVSRNet}

    def add_row(label, net, counts, mid, blocks, mode, arch):
        refill_share = 1 / getattr(net, 'keyframe_stride', 1)
        groups = core.group_macs(counts, blocks, mid, mode, arch, refill_share)
        flow = 2 * spynet_macs(net.spynet, height, width)  # two directions per frame
        params = sum(p.numel() for p in net.parameters())
        flow_params = sum(p.numel() for p in net.spynet.parameters())
        edvr_params = sum(p.numel() for p in net.edvr.parameters()) if arch == 'iconvsr' else 0
        rows.append(dict(model=label, mode=mode, params=params - flow_params - edvr_params,
                         spynet_params=flow_params, edvr_params=edvr_params,
                         gmacs={k: v * pixels / 1e9 for k, v in groups.items()},
                         gmacs_convs=sum(groups.values()) * pixels / 1e9,
                         gmacs_spynet=flow / 1e9))
        nets.append(net.to(args.device).eval())
        print(f"{label:28s} params {rows[-1]['params']:>10,} convs "
              f"{rows[-1]['gmacs_convs']:7.2f} GMAC/frame, SPyNet {flow / 1e9:6.2f}",
              flush=True)

    if args.spec:
        # The dense model the first spec was cut from heads the table.
        first = ChannelSpec.load(args.spec[0])
        dense = dense_types[first.core_arch](mid_channels=first.mid_channels,
                                             num_blocks=first.num_blocks)
        add_row(f'dense {first.mid_channels}x{first.num_blocks}', dense,
                core.channel_groups(generator_convs(dense, first.num_blocks, first.core_arch)),
                first.mid_channels, first.num_blocks, 'aligned', first.core_arch)
        for path in args.spec:
            spec = ChannelSpec.load(path)
            net = pruned_types[spec.arch](spec.to_dict())
            add_row(osp.basename(osp.dirname(osp.abspath(path))) or path, net, spec.counts(),
                    spec.mid_channels, spec.num_blocks, spec.stream_mode, spec.core_arch)
    else:
        mid, blocks, arch = args.mid_channels, args.num_blocks, args.arch
        dense = dense_types[arch](mid_channels=mid, num_blocks=blocks)
        convs = generator_convs(dense, blocks, arch)
        dense_counts = core.channel_groups(convs)
        add_row(f'dense {mid}x{blocks}', dense, dense_counts, mid, blocks, 'aligned', arch)
        unit = {n: torch.ones(s) for n, s in dense_counts.items()}
        importance = core.channel_importance(convs, unit)
        refill_share = 1 / getattr(dense, 'keyframe_stride', 1)
        for mode in args.modes:
            def cost(counts, mode=mode):
                return core.count_macs(counts, blocks, mid, mode, arch, refill_share)
            for share in args.macs:
                kept = choose_kept(importance, cost, share * cost(dense_counts),
                                   round_to=args.round_to)
                spec = ChannelSpec(type(dense).__name__, mid, blocks, mode,
                                   {n: i.tolist() for n, i in kept.items()},
                                   upsample_channels=dense_counts['upsample2'],
                                   hr_channels=dense_counts['conv_hr'])
                add_row(f'{mode} {share:g} of MACs', pruned_types[spec.arch](spec.to_dict()),
                        spec.counts(), mid, blocks, mode, arch)
    clip = torch.rand(1, args.frames, 3, height, width, device=args.device)
    _, seconds, speedups = interleaved_timing(nets, clip, args.repeats, args.device)
    for row, spent, speedup in zip(rows, seconds, speedups):
        row.update(ms_per_frame=1000 * spent / args.frames, speedup=speedup)
    print('\n| model | stream | params (SPyNet, EDVR apart) | GMAC/frame convs | GMAC/frame SPyNet '
          '| ms/frame (median) | speed-up vs first row (median of rounds) |')
    print('|---|---|---|---|---|---|---|')
    for row in rows:
        print(f"| {row['model']} | {row['mode']} | {row['params']:,} | "
              f"{row['gmacs_convs']:.2f} | {row['gmacs_spynet']:.2f} | "
              f"{row['ms_per_frame']:.1f} | {row['speedup']:.2f}x |")
    print('\nGMAC/frame per layer group (convs):')
    for row in rows:
        print(f"  {row['model']}: " + ', '.join(f'{k} {v:.2f}' for k, v in row['gmacs'].items()))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(args=vars(args), rows=rows), f, indent=1)


if __name__ == '__main__':
    main()
