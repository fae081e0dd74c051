"""Stage 2 of SSL: slice a stage-1 (or dense) BasicVSR/IconVSR checkpoint into a smaller model.

    python tools/prune.py CONFIG CHECKPOINT --out work_dirs/pruned            # SSL's pick
    python tools/prune.py CONFIG CHECKPOINT --macs 0.25 --round-to 8 --out DIR
    python tools/prune.py CONFIG DENSE.pth --criterion l1 --macs 0.5 --out DIR  # L1 baseline

CONFIG is the MMagic config the checkpoint was trained with (``SSLBasicVSRNet``,
``SSLIconVSRNet`` or a stock ``BasicVSRNet``/``IconVSRNet``), or the BasicSR
option file (``.yml``; ``network_g.type`` ``SSLBasicVSR``, ``SSLIconVSR``,
``BasicVSR`` or ``IconVSR``; the checkpoint's ``params``, BasicSR names).
Channels: without a target, those the stage-1
regulariser did not pick; with ``--macs R`` / ``--params R``, the most
important channels (``|scale| x filter norm``, or the filters' L1 norm with
``--criterion l1``) until the convs' multiply-adds / parameters (SPyNet
and EDVR excluded; IconVSR's refill convs counted at its keyframes) are at
most R of the dense model's, ranked over all groups
(``--scope global``) or the same share per group. Every coupled layer is
sliced (both branches' streams and hidden states, the fusion input or
IconVSR's refill convs and forward input, pixel-shuffle groups of 4,
conv_hr / conv_last) and the scales are folded in.

Before writing, the sliced model is run on the first validation clip of the
config's data against the stage-1 model with the removed channels' scales at
zero; the max abs difference is printed and must be below ``--tolerance``.
Writes ``DIR/channel_spec.json`` and ``DIR/pruned.pth`` (a checkpoint of
MMagic's ``BasicVSR`` with a ``PrunedBasicVSRNet``/``PrunedIconVSRNet`` generator,
or for BasicSR a ``PrunedBasicVSR``/``PrunedIconVSR`` network checkpoint) and
prints the config keys that load it.
"""
import argparse
import copy
import inspect
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='output folder')
    target = parser.add_mutually_exclusive_group()
    target.add_argument('--macs', type=float, help='keep at most this share of the MACs')
    target.add_argument('--params', type=float, help='keep at most this share of the parameters')
    parser.add_argument('--criterion', choices=('scale', 'l1'), default='scale',
                        help='channel importance with a target (default: scale)')
    parser.add_argument('--scope', choices=('global', 'group'), default='global')
    parser.add_argument('--round-to', type=int, default=1,
                        help='keep a multiple of this many channels per group (within the target)')
    parser.add_argument('--stream-mode', choices=('aligned', 'rsc'),
                        help='stream layout (default: the stage-1 model\'s; aligned for a '
                        'dense checkpoint)')
    parser.add_argument('--tolerance', type=float, default=1e-3,
                        help='largest accepted max abs difference, in [0, 1] pixel units')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='key=value overrides (MMagic configs)')
    parser.add_argument('--param-key', default='params',
                        help="a BasicSR checkpoint's weights entry (default: params; "
                        'params_ema for the EMA copy)')
    args = parser.parse_args(argv)
    for key in ('macs', 'params'):
        value = getattr(args, key)
        if value is not None and not 0 < value <= 1:
            parser.error(f'--{key}: expected a share in (0, 1], got {value}')
    if args.round_to < 1:
        parser.error('--round-to: expected an int >= 1')
    if args.criterion == 'l1' and args.macs is None and args.params is None:
        parser.error('--criterion l1 needs a target (--macs or --params)')
    return args


def first_val_clip(cfg):
    """LR frames ``(1, T, 3, h, w)`` of the first validation clip, as the model sees them."""
    from mmagic.registry import DATASETS
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    return dataset[0]['inputs'].float().unsqueeze(0) / 255.0


def l1_importance(convs):
    """Filter L1 norms per group (the L1-norm pruning baseline, Li et al. 2017)."""
    import torch
    from vsr_multigrid.pruning import basicvsr as core
    unit = {name: torch.ones(size) for name, size in core.channel_groups(convs).items()}
    return core.channel_importance(convs, unit, order=1)


def mmagic_source(args) -> dict:
    """The generator config, weights (MMagic names), first val clip and
    writer of an MMagic config and checkpoint."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from benchmark import parse_cfg_options
    from vsr_multigrid.compat.checkpoint import generator_weights
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(parse_cfg_options(args.cfg_options))
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    generator = copy.deepcopy(cfg.model.generator)
    state = torch.load(args.checkpoint, map_location='cpu', weights_only=False)
    state = state.get('state_dict', state)
    try:
        weights = generator_weights(state)
    except ValueError as error:
        raise SystemExit(f'{args.checkpoint}: {error}') from None

    def save(pruned, arch, meta, path):
        out_state = {f'generator.{k}': v for k, v in pruned.state_dict().items()}
        for key, value in state.items():  # the model's own buffers (step_counter)
            if not key.startswith('generator.'):
                out_state[key] = value
        torch.save(dict(state_dict=out_state, meta=meta), path)

    def load_hint(pruned_type, spec_path, ckpt_path):
        return (f"  model.generator=dict(_delete_=True, type='{pruned_type}', "
                f"channel_spec='{spec_path}')\n  load_from='{ckpt_path}'")

    return dict(type=generator.pop('type'), generator=generator, weights=weights,
                first_val_clip=lambda: first_val_clip(cfg), save=save, load_hint=load_hint)


#: The BasicSR archs whose checkpoints tools/prune.py slices (dense or stage 1).
BASICSR_PRUNABLE = ('BasicVSR', 'SSLBasicVSR', 'IconVSR', 'SSLIconVSR')


def basicsr_source(args) -> dict:
    """As :func:`mmagic_source`, for a BasicSR option file and checkpoint
    (``params``, BasicSR names); writes a BasicSR checkpoint."""
    import torch
    import yaml
    from mmagic.registry import MODELS
    from vsr_multigrid.basicsr_ext import register
    from vsr_multigrid.basicsr_ext.archs import MMAGIC_GENERATORS, mmagic_arguments
    from vsr_multigrid.basicsr_ext.convert import basicsr_to_mmagic, mmagic_to_basicsr
    if args.cfg_options:
        raise SystemExit('--cfg-options: MMagic configs only; edit the BasicSR option file')
    with open(args.config) as f:
        opt = yaml.safe_load(f)
    network = dict(opt.get('network_g') or {})
    arch_type = network.get('type')
    if arch_type not in BASICSR_PRUNABLE:
        raise SystemExit(f'{args.config}: network_g.type is {arch_type!r}; tools/prune.py '
                         f'slices {", ".join(BASICSR_PRUNABLE)}')
    generator = mmagic_arguments(network)
    # Checked before any work; a key the mapping does not rename keeps its
    # BasicSR spelling, so the message names what the user wrote.
    unknown = sorted(set(generator) - set(inspect.signature(
        MODELS.get(MMAGIC_GENERATORS[arch_type])).parameters))
    if unknown:
        raise SystemExit(f'{args.config}: network_g key(s) {unknown} unknown to {arch_type}')
    arch = 'iconvsr' if 'IconVSR' in arch_type else 'basicvsr'
    state = torch.load(args.checkpoint, map_location='cpu', weights_only=True)
    if args.param_key not in state:
        raise SystemExit(f'{args.checkpoint}: no {args.param_key!r} entry (not a BasicSR '
                         f'network checkpoint; keys {sorted(state)[:5]})')
    weights = basicsr_to_mmagic(state[args.param_key], arch, keep=('ssl.',))

    def first_clip():
        register()
        from basicsr.data import build_dataset
        val = dict(opt['datasets']['val'], phase='val', scale=opt.get('scale', 4))
        return build_dataset(val)[0]['lq'].float().unsqueeze(0)

    def save(pruned, arch, meta, path):
        torch.save(dict(params=mmagic_to_basicsr(pruned.state_dict(), arch), meta=meta), path)

    def load_hint(pruned_type, spec_path, ckpt_path):
        basicsr_type = pruned_type[:-len('Net')]
        return (f'  network_g:\n    type: {basicsr_type}\n    channel_spec: {spec_path}\n'
                f'  path:\n    pretrain_network_g: {ckpt_path}')

    return dict(type=MMAGIC_GENERATORS[arch_type], generator=generator, weights=weights,
                first_val_clip=first_clip, save=save, load_hint=load_hint)


def main(argv=None):
    args = parse_args(argv)
    import torch
    import vsr_multigrid  # noqa: F401
    from vsr_multigrid.engine import pruning as adapters
    from vsr_multigrid.pruning import basicvsr as core
    from vsr_multigrid.pruning.select import choose_kept, kept_from_picked
    from vsr_multigrid.pruning.spec import ChannelSpec

    source = basicsr_source(args) if args.config.endswith(('.yml', '.yaml')) else \
        mmagic_source(args)
    gen_cfg, gen_type = dict(source['generator']), source['type']
    dense_type = gen_type[len('SSL'):] if gen_type.startswith('SSL') else gen_type
    if dense_type not in ('BasicVSRNet', 'IconVSRNet'):
        raise SystemExit(f'{args.config}: the generator is {gen_type!r}; tools/prune.py '
                         'slices BasicVSR, IconVSR or their SSL stage-1 types')
    stage1_cls = getattr(adapters, f'SSL{dense_type}')
    pruned_cls = getattr(adapters, f'Pruned{dense_type}')
    stage1_mode = gen_cfg.pop('stream_mode', None)
    gen_cfg.pop('sparsity', None)
    mode = args.stream_mode or stage1_mode or 'aligned'
    if stage1_mode and mode != stage1_mode:
        raise SystemExit(f'--stream-mode {mode}: the checkpoint was trained with stream_mode='
                         f'{stage1_mode!r}; its scales only fold into that layout')
    net = stage1_cls(stream_mode=mode, **gen_cfg)
    generator = source['weights']
    missing, unexpected = net.load_state_dict(generator, strict=False)
    if unexpected or any(not k.startswith('ssl.') for k in missing):
        raise SystemExit(f'{args.checkpoint} does not fit {gen_type}({gen_cfg}): missing '
                         f'{[k for k in missing if not k.startswith("ssl.")][:5]}, unexpected '
                         f'{unexpected[:5]}')
    net.eval()
    convs, scales = net.convs(), net.ssl.scales
    dense_counts = core.channel_groups(convs)
    mid, blocks, arch = net.mid_channels, net.num_blocks, stage1_cls.ARCH
    refill_share = 1 / getattr(net, 'keyframe_stride', 1)

    def macs(counts):
        return core.count_macs(counts, blocks, mid, mode, arch, refill_share)

    def params(counts):
        return core.count_params(counts, blocks, mid, mode, arch)

    if args.macs is None and args.params is None:
        if not bool(net.ssl.has_picked):
            raise SystemExit(f'{args.checkpoint} has no stage-1 pick (a dense or early '
                             'checkpoint): give a target, --macs or --params')
        kept = kept_from_picked({n: net.ssl.picked(n) for n in net.ssl.names})
        how = 'the stage-1 pick'
    else:
        importance = l1_importance(convs) if args.criterion == 'l1' else \
            core.channel_importance(convs, scales)
        cost, share = (macs, args.macs) if args.macs is not None else (params, args.params)
        kept = choose_kept(importance, cost, share * cost(dense_counts), args.scope,
                           args.round_to)
        how = f'{args.criterion} ranking ({args.scope}), target {share:g} of the ' + \
            ('MACs' if args.macs is not None else 'parameters')
    counts = {n: int(i.numel()) for n, i in kept.items()}

    extra = dict(keyframe_stride=net.keyframe_stride, padding=net.padding) \
        if arch == 'iconvsr' else {}
    spec = ChannelSpec(dense_type, mid, blocks, mode, {n: i.tolist() for n, i in kept.items()},
                       upsample_channels=dense_counts['upsample2'],
                       hr_channels=dense_counts['conv_hr'], **extra)
    weights = core.slice_weights(convs, scales, kept, mode)
    pruned = pruned_cls(spec.to_dict()).eval()
    # Everything but the sliced convs (SPyNet, IconVSR's EDVR) is copied as is.
    unsliced = {k: v for k, v in net.state_dict().items()
                if not k.startswith('ssl.') and k in pruned.state_dict()
                and v.shape == pruned.state_dict()[k].shape}
    pruned.load_state_dict(unsliced, strict=False)
    core.load_weights(pruned.convs(), weights)
    masked = copy.deepcopy(net)
    core.zero_removed(masked.ssl.scales, kept)
    clip = source['first_val_clip']()
    with torch.no_grad():
        difference = float((pruned(clip) - masked(clip)).abs().max())
    print(f'channels kept by {how}:')
    for name in dense_counts:
        print(f'  {name:20s} {counts[name]:4d} / {dense_counts[name]}')
    print(f'MACs per LR pixel (SPyNet excluded): {macs(counts):,} of {macs(dense_counts):,} '
          f'({macs(counts) / macs(dense_counts):.3f}); parameters {params(counts):,} of '
          f'{params(dense_counts):,} ({params(counts) / params(dense_counts):.3f})')
    print(f'sliced vs masked model on the first validation clip {tuple(clip.shape)}: '
          f'max abs difference {difference:.2e}')
    if not difference <= args.tolerance:
        raise SystemExit(f'the sliced model does not reproduce the masked one (max abs '
                         f'difference {difference:.2e} > --tolerance {args.tolerance:g}); '
                         'nothing written')

    os.makedirs(args.out, exist_ok=True)
    spec_path = osp.abspath(osp.join(args.out, 'channel_spec.json'))
    spec.save(spec_path)
    meta = dict(pruned_from=osp.abspath(args.checkpoint), channel_spec=spec_path,
                selection=how, macs=macs(counts), dense_macs=macs(dense_counts),
                params=params(counts), dense_params=params(dense_counts),
                max_abs_difference=difference)
    ckpt_path = osp.join(args.out, 'pruned.pth')
    source['save'](pruned, arch, meta, ckpt_path)
    with open(osp.join(args.out, 'prune_report.json'), 'w') as f:
        json.dump(dict(selection=how, counts=counts, dense_counts=dense_counts,
                       macs_ratio=macs(counts) / macs(dense_counts),
                       params_ratio=params(counts) / params(dense_counts),
                       max_abs_difference=difference), f, indent=1)
    print(f'wrote {ckpt_path} and {spec_path}; load with')
    print(source['load_hint'](pruned_cls.__name__, spec_path, osp.abspath(ckpt_path)))

if __name__ == '__main__':
    main()
