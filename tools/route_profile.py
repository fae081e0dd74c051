"""Where a routed forward spends its time, replayed at another width.

    python tools/route_profile.py CONFIG CHECKPOINT --threshold 0.7 \
        --cfg-options val_dataloader.dataset.data_root=$PWD/data/demo_still640

Runs the routed checkpoint on validation clip ``--clip`` at ``--threshold``
to record its decisions, builds the same architecture at ``--width``
(MMagic's 64 x 30 by default, random weights) routed by those decisions and
dense, and times each forward with stopwatches around its parts: SPyNet
(``flow``), the branches' input convs, the routed residual blocks, the
estimators and their temporal cue, and the reconstruction (the box of
``static_output``, or the whole head). It also times the whole head and one
branch's blocks alone on random features of the clip's size. Rounds
alternate dense and routed. Run it alone on the machine: it times.
"""
import argparse
import collections
import functools
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--threshold', type=float, default=0.5)
    parser.add_argument('--clip', type=int, default=0)
    parser.add_argument('--width', type=int, nargs=2, default=[64, 30],
                        metavar=('CHANNELS', 'BLOCKS'))
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--cfg-options', nargs='+', default=[])
    args = parser.parse_args(argv)
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    import vsr_multigrid.engine.routing as engine
    from mmagic.registry import DATASETS, MODELS
    from benchmark import parse_cfg_options
    from route_report import replay_pair
    from vsr_multigrid.compat.checkpoint import generator_weights

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(parse_cfg_options(args.cfg_options))
    init_default_scope(cfg.get('default_scope', 'mmagic'))
    gen_cfg = cfg.model.generator
    routed = MODELS.build(gen_cfg).eval()
    routed.load_state_dict(generator_weights(args.checkpoint), strict=True)
    routed.threshold = args.threshold
    lrs = DATASETS.build(cfg.val_dataloader.dataset)[args.clip]['inputs'].float()[None] / 255
    with torch.inference_mode():
        routed.record_maps = True
        routed(lrs)
    print(f'clip {args.clip}: {tuple(lrs.shape)}, threshold {args.threshold}: executed '
          f'{routed.executed_fraction():.3f}, output rebuilt {routed.reconstructed_fraction():.3f}')
    dense, wide = replay_pair(gen_cfg, routed.routing['units'], args.width)
    wide.forced_maps = routed.gate_maps

    spent = collections.defaultdict(float)

    def stopwatch(name, fn):
        @functools.wraps(fn)
        def timed(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - start
        return timed

    # The module-level names the routed forward calls; restored at the end.
    patched = {(engine, 'routed_residual_blocks'): 'blocks', (engine, 'temporal_cue'): 'cue',
               (engine, 'reconstruct_box'): 'reconstruction',
               (engine.roles, 'branch_input'): 'branch input',
               (engine.roles, 'plain_reconstruct'): 'reconstruction'}
    originals = {target: getattr(*target) for target in patched}
    try:
        for (owner, name), label in patched.items():
            setattr(owner, name, stopwatch(label, originals[(owner, name)]))
        for net in (wide, dense):
            net.compute_flow = stopwatch('flow', net.compute_flow)
        for router in (wide.backward_router, wide.forward_router):
            router.pool = stopwatch('estimators', router.pool)
        print(f'{args.width[0]}x{args.width[1]}: seconds per forward of {lrs.size(1)} frames')
        with torch.inference_mode():
            for round_ in range(args.rounds + 1):
                for label, net in (('dense', dense), ('routed', wide)):
                    spent.clear()
                    start = time.perf_counter()
                    net(lrs)
                    total = time.perf_counter() - start
                    if round_:  # round 0 warms up
                        parts = ', '.join(f'{k} {v:.2f}' for k, v in spent.items())
                        print(f'  {label}: total {total:.2f} ({parts}; rest '
                              f'{total - sum(spent.values()):.2f})')
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)
    convs, (height, width) = wide.convs(), lrs.shape[-2:]
    features = [torch.randn(1, args.width[0], height, width) for _ in range(2)]
    with torch.inference_mode():
        for label, run in (('whole head', lambda: engine.roles.reconstruct_residual(
                convs, *features)), ('one branch\'s blocks, whole frame',
                                     lambda: engine.routed_residual_blocks(
                                         convs, 'forward', args.width[1], features[0], None,
                                         routed.routing['patch'], 'sparse'))):
            run()
            start = time.perf_counter()
            for _ in range(lrs.size(1)):
                run()
            print(f'  {label}, {lrs.size(1)} frames: {time.perf_counter() - start:.2f}')


if __name__ == '__main__':
    main()
