"""Convert a BasicVSR checkpoint between MMagic and BasicSR.

    python tools/convert_checkpoint.py mmagic2basicsr work_dirs/x/iter_800.pth net_g.pth
    python tools/convert_checkpoint.py basicsr2mmagic experiments/x/models/net_g_800.pth mm.pth

MMagic checkpoints hold the generator under ``state_dict`` with the prefix
``generator.``; BasicSR network files hold it under ``params`` (or
``params_ema``, which ``--key`` picks). The output is in the other format: a
BasicSR ``{'params': ...}`` file for ``network_g``'s ``pretrain_network_g``,
or an MMagic ``{'state_dict': {'generator.*': ..., 'step_counter': 0}}``
checkpoint that ``tools/test.py`` and strict loaders take. Unknown parameter names fail, naming them.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('direction', choices=('mmagic2basicsr', 'basicsr2mmagic'))
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--arch', default='basicvsr', choices=('basicvsr', 'iconvsr'))
    parser.add_argument('--key', default='params',
                        help="BasicSR input: 'params' or 'params_ema' (default params)")
    args = parser.parse_args(argv)
    import torch
    from vsr_multigrid.basicsr_ext.convert import basicsr_to_mmagic, mmagic_to_basicsr
    from vsr_multigrid.compat.checkpoint import generator_weights

    state = torch.load(args.src, map_location='cpu', weights_only=False)
    if args.direction == 'mmagic2basicsr':
        try:
            generator = generator_weights(state)
        except ValueError as error:
            raise SystemExit(f'{args.src}: {error}') from None
        torch.save(dict(params=mmagic_to_basicsr(generator, args.arch)), args.dst)
    else:
        if args.key not in state:
            raise SystemExit(f'{args.src}: no {args.key!r} (BasicSR network files hold '
                             f"'params' and maybe 'params_ema'; found {sorted(state)[:5]})")
        converted = basicsr_to_mmagic(state[args.key], args.arch)
        # MMagic's BasicVSR model also holds its training-step counter (for
        # fix_iter); BasicSR keeps none, so it starts at 0, as a fresh model.
        state_dict = {f'generator.{k}': v for k, v in converted.items()}
        state_dict['step_counter'] = torch.zeros(1)
        torch.save(dict(state_dict=state_dict, meta=dict(converted_from=osp.abspath(args.src))),
                   args.dst)
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
