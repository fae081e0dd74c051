# Skip routing, phase 1, on the tiny stock BasicVSR: the confidence
# estimators learn which blocks to skip per 16x16 LR patch while the dense
# backbone (load_from=DENSE.pth, stock parameter names) stays fixed. The
# backbone is held by a zero LR rather than requires_grad: BasicVSR's
# fix_iter re-enables gradients of the whole generator, and under DDP every
# parameter keeps its gradient.
_base_ = '../basicvsr/basicvsr_tiny_demo.py'
experiment_name = 'basicvsr_routed-phase1_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(
    type='RoutedBasicVSR',
    compute_weight=1.0,
    generator=dict(type='RoutedBasicVSRNet',
                   routing=dict(patch=16, units=None, target=0.5, temperature=1.0,
                                min_temperature=0.1, anneal_iters=300, threshold=0.5,
                                static_tolerance=0.0)))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'generator': dict(lr_mult=0.0),
    # Longer keys win in mmengine's matching: the estimators train.
    'generator.backward_router': dict(lr_mult=1.0),
    'generator.forward_router': dict(lr_mult=1.0)}))
# The cosine's floor is absolute (1e-7 in the stock config): with it a zero
# LR would creep up; 0 keeps the backbone's LR exactly 0.
param_scheduler = dict(eta_min=0.0)
