"""CUDA paths of the routed and pruned generators, checked against CPU.

    python tools/device/cuda_check.py [--device cuda]

Run on the lent GPU machine by ``tools/device/run.sh`` (the tests run on CPU in
CI). Each check prints PASS/FAIL with its numbers; the exit status is the
number of failures. float32 throughout, TF32 off, so CUDA and CPU differ only
by summation order.
"""
import argparse
import copy
import os.path as osp
import sys
import traceback

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))


def _clip(t, h, w, seed=0):
    import torch
    return torch.rand(1, t, 3, h, w, generator=torch.Generator().manual_seed(seed))


def routed_pair(mid=16, blocks=4, patch=8, seed=0, **routing):
    """A stock BasicVSRNet and a routed copy with decisive random estimators."""
    import torch
    from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet
    from vsr_multigrid.engine.routing import RoutedBasicVSRNet
    torch.manual_seed(seed)
    stock = BasicVSRNet(mid_channels=mid, num_blocks=blocks).eval()
    routed = RoutedBasicVSRNet(mid_channels=mid, num_blocks=blocks,
                               routing=dict(patch=patch, **routing)).eval()
    routed.load_state_dict(stock.state_dict(), strict=False)
    with torch.no_grad():
        for estimator in (routed.backward_router, routed.forward_router):
            estimator.head.weight.normal_(0, 2)
            estimator.head.bias.zero_()
    return stock, routed


def check_routed(device):
    import torch
    stock, routed = routed_pair()
    clip = _clip(5, 45, 80)
    with torch.no_grad():
        routed.threshold = 0.5
        cpu_out, cpu_share = routed(clip), routed.executed_fraction()
        stock, routed = stock.to(device), routed.to(device)
        x = clip.to(device)
        routed.threshold = 0.0
        dense_gap = (routed(x) - stock(x)).abs().max().item()
        routed.threshold = 0.5
        sparse = routed(x)
        share = routed.executed_fraction()
        routed.routing['inference'] = 'masked'
        masked_gap = (sparse - routed(x)).abs().max().item()
        routed.routing['inference'] = 'sparse'
        cpu_gap = (sparse.cpu() - cpu_out).abs().max().item()
    yield f'routed, all gates open = stock ({device})', dense_gap < 1e-5, f'max |diff| {dense_gap:.2e}'
    yield f'routed, sparse = masked ({device})', 0 < share < 1 and masked_gap < 1e-5, \
        f'executed {share:.3f}, max |diff| {masked_gap:.2e}'
    yield f'routed, {device} = CPU', cpu_gap < 1e-4 and abs(share - cpu_share) < 1e-9, \
        f'executed {share:.3f} vs {cpu_share:.3f}, max |diff| {cpu_gap:.2e}'
    routed.train()
    routed.routing.update(target=0.25, anneal_iters=10)
    out = routed(x)
    loss = out.abs().mean() + routed.compute_loss()
    loss.backward()
    missing = [n for n, p in routed.named_parameters() if p.grad is None or
               not torch.isfinite(p.grad).all()]
    yield f'routed training step ({device}): every parameter a finite gradient', not missing, \
        f'loss {loss.item():.4f}, without: {missing[:3]}'


def check_pruned(device, tmp):
    import torch
    from vsr_multigrid.engine.pruning import PrunedBasicVSRNet, SSLBasicVSRNet
    from vsr_multigrid.pruning import basicvsr as core
    from vsr_multigrid.pruning.spec import ChannelSpec
    for mode in core.STREAM_MODES:
        torch.manual_seed(0)
        net = SSLBasicVSRNet(mid_channels=16, num_blocks=3, stream_mode=mode).eval()
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.05 * torch.randn_like(p))
            for s in net.ssl.scales.values():
                s.copy_(torch.randn_like(s))
        g = torch.Generator().manual_seed(1)
        kept = {}
        for name, size in core.channel_groups(net.convs()).items():
            count = int(torch.randint(1, size + 1, (1,), generator=g))
            kept[name] = torch.randperm(size, generator=g)[:count].sort().values
        masked = copy.deepcopy(net)
        core.zero_removed(masked.ssl.scales, kept)
        weights = core.slice_weights(net.convs(), net.ssl.scales, kept, mode)
        path = osp.join(tmp, f'spec_{mode}.json')
        ChannelSpec('BasicVSRNet', 16, 3, mode, {k: v.tolist() for k, v in kept.items()}
                    ).save(path)
        pruned = PrunedBasicVSRNet(path).eval()
        pruned.spynet.load_state_dict(net.spynet.state_dict())
        core.load_weights(pruned.convs(), weights)
        clip = _clip(4, 32, 48).to(device)
        masked, pruned = masked.to(device), pruned.to(device)
        with torch.no_grad():
            expected, got = masked(clip), pruned(clip)
        gap = (got - expected).abs().max().item() / expected.abs().max().item()
        yield f'pruned ({mode}): sliced = masked ({device})', gap < 1e-5, f'relative max {gap:.2e}'
    net = SSLBasicVSRNet(mid_channels=16, num_blocks=3,
                         sparsity=dict(ratio=0.5, interval=1, delta=0.01)).to(device).train()
    out = net(_clip(2, 32, 32).to(device))
    loss = out.mean() + net.sparsity_loss()
    loss.backward()
    grad = net.ssl.scales['conv_hr'].grad
    yield f'SSL stage-1 training step ({device})', grad is not None and bool(
        torch.isfinite(grad).all()) and bool(net.ssl.has_picked), f'loss {loss.item():.4f}'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cuda')
    args = parser.parse_args(argv)
    import tempfile
    import torch
    from mmengine.registry import init_default_scope
    import vsr_multigrid  # noqa: F401
    init_default_scope('mmagic')
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for check in (lambda: check_routed(args.device),
                      lambda: check_pruned(args.device, tmp)):
            try:
                for label, ok, detail in check():
                    failures += not ok
                    print(f"{'PASS' if ok else 'FAIL'}  {label}: {detail}", flush=True)
            except Exception:  # noqa: BLE001 (report and go on to the next check)
                failures += 1
                print('FAIL  (raised)\n' + traceback.format_exc(), flush=True)
    print(f'{failures} failure(s)')
    return failures


if __name__ == '__main__':
    sys.exit(main())
