"""Skip routing at test time: executed fraction, measured speed-up and PSNR per clip.

    python tools/route_report.py CONFIG CHECKPOINT --thresholds 0.3 0.5 0.7 \
        --out work_dirs/route_report

CONFIG is a routed config (``RoutedBasicVSRNet``/``RoutedIconVSRNet``) and
CHECKPOINT its trained weights. For each test-time threshold (and each
``--shares`` fraction: the most confident share of each frame's pairs runs,
``routing.test_share``) it runs the generator on every
validation clip (LR frames as the model sees them), and reports per clip the
share of (block, patch) pairs that ran (and per branch: an estimator can
meet its target by closing one branch, and no patch decision is left), the
share of output pixels reconstructed (below 1 with ``routing.static_output``),
the latency per frame against the
dense ``BasicVSRNet`` (dense and routed run alternately, ``--repeats`` pairs
after one warm-up; the speed-up is the median of the pairs' ratios), and
PSNR (RGB, whole frames, MMagic's ``psnr``) for both. The dense rows use
``--dense CHECKPOINT``, the model routing started from, when given; else the
routed checkpoint's own backbone with every block running (after phase 2 that
is not the model the routing should be judged against).
Since at tiny widths the residual blocks are a few percent of the cost, it
also times a generator of ``--replay-width`` (MMagic's 64 x 30 by default,
random weights) dense and replaying the same decisions, one per unit and
patch, each unit covering the same share of the wider model's blocks.
At the first rule it also says where the blocks run, per clip and branch:
each unit's share of the patches, and how many (frame, unit) decisions
split a frame (:func:`where_blocks_run`; none: it decides by frame or
branch, not by patch).
It writes ``report.md``/``report.json`` and ``patch_map.png``: one frame of
``--clip`` next to a map of how many residual blocks ran in each patch (both
branches) at the first rule. Run it alone on the machine: it times.
A routed pruned generator (``RoutedPrunedBasicVSRNet``, skip routing on top of
SSL) is compared with its ``PrunedBasicVSRNet`` (``--dense`` its weights); it
has no replay at another width (that would need a channel spec of that width).
"""
import argparse
import json
import os
import os.path as osp
import statistics
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from timing import interleaved_timing  # noqa: E402


def blocks_ran_map(net, t: int):
    """Per patch of frame ``t``: residual blocks run, both branches summed."""
    import numpy as np
    from vsr_multigrid.routing.blocks import unit_of
    total = None
    for branch in ('backward', 'forward'):
        gates = net.gate_maps[(branch, t)]
        if gates is None:
            continue
        per_unit = np.zeros(gates.shape[1])
        for k in range(net.num_blocks):
            per_unit[unit_of(k, net.num_blocks, gates.shape[1])] += 1
        counts = (gates[0].float().cpu().numpy() * per_unit[:, None, None]).sum(0)
        total = counts if total is None else total + counts
    return total


def where_blocks_run(net, num_frames: int) -> dict:
    """Per branch, from the last forward's recorded decisions: each unit's
    share of patches run, averaged over the routed frames, and ``split``,
    the share of (frame, unit) decisions that run some but not all of the
    frame's patches (0: the estimator decides per frame or branch, not per
    patch). Frames that ran every block (a branch's first, refreshes) are
    left out."""
    import torch
    where = {}
    for branch in ('backward', 'forward'):
        maps = [net.gate_maps.get((branch, t)) for t in range(num_frames)]
        maps = [m[0].float() for m in maps if m is not None]
        if not maps:
            where[branch] = dict(unit_shares=[1.0], split=0.0, frames=0)
            continue
        per = torch.stack(maps).mean((2, 3))  # (frames, units)
        where[branch] = dict(unit_shares=[round(float(x), 3) for x in per.mean(0)],
                             split=float(((per > 0) & (per < 1)).float().mean()),
                             frames=len(maps))
    return where


def replay_pair(gen_cfg, units: int, width):
    """Dense and routed generators of ``gen_cfg``'s architecture at ``width``
    (channels, blocks), same random weights: a calibrated model's decisions
    (one per unit and patch) drive the routed one's blocks (set its
    ``forced_maps``), unit k covering the same share of its (more) blocks."""
    import torch
    from mmagic.registry import MODELS
    from vsr_multigrid.engine.routing import dense_generator_cfg
    keys = dict(mid_channels=width[0], num_blocks=width[1])
    torch.manual_seed(0)
    routed = MODELS.build(dict(gen_cfg, **keys, routing=dict(gen_cfg.get('routing', {}),
                                                            units=units))).eval()
    dense = MODELS.build(dict(dense_generator_cfg(gen_cfg), **keys)).eval()
    dense.load_state_dict(routed.state_dict(), strict=False)
    return dense, routed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--thresholds', type=float, nargs='*', default=[0.5])
    parser.add_argument('--shares', type=float, nargs='+', default=[],
                        help='also decide by share: per routed frame and branch, this '
                        'fraction of the (unit, patch) pairs runs, the most confident')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed pairs per row after a warm-up; 0: quality only (one '
                        'forward per clip and threshold, no timing, no replay)')
    parser.add_argument('--clip', type=int, default=0, help='clip of the patch-map PNG')
    parser.add_argument('--replay-width', type=int, nargs=2, default=[64, 30],
                        metavar=('CHANNELS', 'BLOCKS'),
                        help='also time a generator of this width (random weights) replaying '
                        'the decisions the checkpoint made (default: MMagic\'s 64 x 30; '
                        '0 0 skips)')
    parser.add_argument('--dense', metavar='CHECKPOINT',
                        help='the dense checkpoint routing started from: the reference of '
                        'the "vs dense" column (default: the routed weights, all blocks running)')
    parser.add_argument('--device', default='cpu',
                        help="where the models run and are timed, e.g. 'cuda'")
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args(argv)
    if any(not 0 <= t <= 1 for t in args.thresholds):
        parser.error('--thresholds: expected confidences in [0, 1]')
    if any(not 0 <= s <= 1 for s in args.shares):
        parser.error('--shares: expected fractions in [0, 1]')
    # Test-time rules in order: (label, threshold, share); a share replaces
    # the threshold.
    rules = [(f'{t:g}', t, None) for t in args.thresholds] + \
        [(f'share {s:g}', 0.5, s) for s in args.shares]
    if not rules:
        parser.error('no test-time rule: give --thresholds and/or --shares')
    if args.repeats < 0:
        parser.error(f'--repeats: expected 0 (quality only) or more timed pairs, '
                     f'got {args.repeats}')

    import numpy as np
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    from mmagic.evaluation.metrics.psnr import psnr
    from mmagic.registry import DATASETS, MODELS
    from benchmark import machine, parse_cfg_options
    from vsr_multigrid.compat.checkpoint import generator_weights
    from vsr_multigrid.engine.routing import dense_generator_cfg

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(parse_cfg_options(args.cfg_options))
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    gen_cfg = cfg.model.generator
    routed_types = ('RoutedBasicVSRNet', 'RoutedIconVSRNet', 'RoutedPrunedBasicVSRNet',
                    'RoutedPrunedIconVSRNet')
    if gen_cfg.get('type') not in routed_types:
        raise SystemExit(f"{args.config}: model.generator.type is {gen_cfg.get('type')!r}, "
                         f"expected one of {', '.join(routed_types)}")
    pruned = 'channel_spec' in gen_cfg
    if pruned and args.replay_width[0] > 0:
        # A wider replay needs a channel spec of that width, which this
        # checkpoint does not have.
        print(f'{gen_cfg.type}: no replay at another width for a pruned generator '
              '(--replay-width skipped)')
        args.replay_width = [0, 0]
    if args.repeats == 0:  # quality only: nothing to replay
        args.replay_width = [0, 0]
    routed = MODELS.build(gen_cfg).eval()
    weights = generator_weights(args.checkpoint)
    routed.load_state_dict(weights, strict=True)
    routed.to(args.device)
    # The stock (or pruned) generator of the same keys, without routing.
    dense_cfg = dense_generator_cfg(gen_cfg)
    dense = MODELS.build(dense_cfg).eval()
    dense_checkpoint = args.dense or args.checkpoint
    missing, unexpected = dense.load_state_dict(
        generator_weights(args.dense) if args.dense else weights, strict=False)
    if missing or any(not k.startswith(('backward_router', 'forward_router', 'route_iter'))
                      for k in unexpected):
        raise SystemExit(f'{dense_checkpoint}: the dense generator does not fit its weights '
                         f'(missing {missing[:3]}, unexpected {unexpected[:3]})')
    dense.to(args.device)
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    clips = []
    for index in range(len(dataset)):
        sample = dataset[index]
        gt = np.asarray(sample['data_samples'].gt_img).transpose(0, 2, 3, 1).astype(np.float32)
        key = str(dataset.get_data_info(index).get('key', index))
        clips.append((key, sample['inputs'].float().unsqueeze(0).to(args.device) / 255.0, gt))

    if not 0 <= args.clip < len(clips):
        raise SystemExit(f'--clip {args.clip}: the validation set has {len(clips)} clip(s), '
                         f'expected an index from 0 to {len(clips) - 1}')

    def scores(out, gt):
        frames = out[0].clamp(0, 1).mul(255).cpu().numpy().transpose(0, 2, 3, 1)
        return float(np.mean([psnr(g, f) for f, g in zip(frames, gt)]))

    replay = None
    if args.replay_width[0] > 0:
        replay = [net.to(args.device)
                  for net in replay_pair(gen_cfg, routed.routing['units'], args.replay_width)]
    rows, dense_ms = [], {}
    with torch.inference_mode():
        for key, lrs, gt in clips:
            rows.append(dict(clip=key, rule='dense', threshold=None, share=None, executed=1.0,
                             executed_backward=1.0, executed_forward=1.0, reconstructed=1.0,
                             psnr=scores(dense(lrs), gt)))
            dense_ms[key] = []
    for label, threshold, share in rules:
        routed.threshold, routed.test_share = threshold, share
        for key, lrs, gt in clips:
            timing = {}
            if args.repeats:
                (_, out), (dense_s, routed_s), (_, speedup) = interleaved_timing(
                    (dense, routed), lrs, args.repeats, args.device)
                dense_ms[key].append(1000 * dense_s / lrs.size(1))
                timing = dict(ms_per_frame=1000 * routed_s / lrs.size(1), speedup=speedup)
            else:
                with torch.inference_mode():
                    out = routed(lrs)
            row = dict(clip=key, rule=label, threshold=threshold, share=share,
                       executed=routed.executed_fraction(),
                       executed_backward=routed.executed_fraction('backward'),
                       executed_forward=routed.executed_fraction('forward'),
                       reconstructed=routed.reconstructed_fraction(),
                       psnr=scores(out, gt), **timing)
            if replay is not None:
                routed.record_maps = True
                with torch.inference_mode():
                    routed(lrs)
                routed.record_maps = False
                wide_dense, wide_routed = replay
                wide_routed.forced_maps = routed.gate_maps
                _, (dense_s, routed_s), (_, speedup) = interleaved_timing(
                    (wide_dense, wide_routed), lrs, args.repeats, args.device)
                wide_routed.forced_maps = None
                row.update(wide_ms_dense=1000 * dense_s / lrs.size(1),
                           wide_ms_routed=1000 * routed_s / lrs.size(1),
                           wide_speedup=speedup)
            rows.append(row)
    for row in rows:  # the dense model's median over its pairs
        if row['rule'] == 'dense' and dense_ms[row['clip']]:
            row['ms_per_frame'] = statistics.median(dense_ms[row['clip']])
    dense_by_clip = {r['clip']: r for r in rows if r['rule'] == 'dense'}
    wide = f'{args.replay_width[0]}x{args.replay_width[1]}'
    lines = [f'Machine: {machine()}. Checkpoint: {args.checkpoint}. Dense rows: '
             f"{args.dense or 'its backbone with every block running'}.", '',
             '| rule | clip | executed (backward, forward branch) | output rebuilt | ms/frame '
             '| speed-up vs dense | PSNR '
             f'| vs dense | {wide} replaying the decisions: ms/frame dense, routed, speed-up |',
             '|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        base = dense_by_clip[row['clip']]
        replayed = (f"{row['wide_ms_dense']:.1f}, {row['wide_ms_routed']:.1f}, "
                    f"{row['wide_speedup']:.2f}x") if 'wide_speedup' in row else '-'
        timed = (f"{row['ms_per_frame']:.1f} | {row.get('speedup', 1.0):.2f}x"
                 if 'ms_per_frame' in row else '- | -')
        lines.append(f"| {row['rule']} | {row['clip']} | {row['executed']:.3f} "
                     f"({row['executed_backward']:.2f}, {row['executed_forward']:.2f}) | "
                     f"{row['reconstructed']:.3f} | {timed} | "
                     f"{row['psnr']:.3f} | {row['psnr'] - base['psnr']:+.3f} | {replayed} |")
    # Where the blocks run, at the first rule (and the patch map's counts,
    # from the same forward of its clip).
    label, routed.threshold, routed.test_share = rules[0]
    where = {}
    routed.record_maps = True
    for index, (key, lrs, _) in enumerate(clips):
        with torch.inference_mode():
            routed(lrs)
        where[key] = where_blocks_run(routed, lrs.size(1))
        if index == args.clip:
            map_frame = lrs.size(1) // 2
            counts = blocks_ran_map(routed, map_frame)
    routed.record_maps = False
    lines += ['', f'Where the blocks run at {label}: each unit\'s share of the patches '
              '(mean over routed frames); split: the share of (frame, unit) decisions that '
              'run some but not all of the frame\'s patches.', '',
              '| clip | branch | units\' shares | split |', '|---|---|---|---|']
    for key, branches in where.items():
        for branch, info in branches.items():
            shares = ', '.join(f'{x:.2f}' for x in info['unit_shares'])
            lines.append(f"| {key} | {branch} | {shares} | {info['split']:.2f} |")
    os.makedirs(args.out, exist_ok=True)
    text = '\n'.join(lines)
    print(text)
    with open(osp.join(args.out, 'report.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(args.out, 'report.json'), 'w') as f:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint, dense=args.dense,
                       rows=rows, where=where), f, indent=1)

    # The patch map of one frame at the first rule.
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    key, _, gt = clips[args.clip]
    t = map_frame
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].imshow(gt[t].astype(np.uint8))
    axes[0].set_title(f'clip {key}, frame {t} (ground truth)', fontsize=9)
    if counts is None:
        counts = np.full((1, 1), 2 * routed.num_blocks)
    image = axes[1].imshow(counts, cmap='viridis', vmin=0, vmax=2 * routed.num_blocks,
                           interpolation='nearest')
    axes[1].set_title(f'residual blocks run per {routed.routing["patch"]}px LR patch, both '
                      f'branches (of {2 * routed.num_blocks}), '
                      f"{label if routed.test_share is not None else 'threshold ' + label}",
                      fontsize=9)
    fig.colorbar(image, ax=axes[1], fraction=0.04)
    for ax in axes:
        ax.axis('off')
    fig.tight_layout()
    fig.savefig(osp.join(args.out, 'patch_map.png'), dpi=110)
    print(f"wrote {osp.join(args.out, 'patch_map.png')}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
