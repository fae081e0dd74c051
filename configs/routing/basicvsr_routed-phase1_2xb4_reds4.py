# Skip routing, phase 1, on MMagic's BasicVSR REDS4 config: estimators
# trained over a fixed dense backbone (load_from=DENSE.pth), 16x16 LR patches,
# one decision per block, half the blocks run on average.
_base_ = 'mmagic::basicvsr/basicvsr_2xb4_reds4.py'
custom_imports = dict(imports=['vsr_multigrid'], allow_failed_imports=False)
experiment_name = 'basicvsr_routed-phase1_2xb4_reds4'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(
    type='RoutedBasicVSR',
    compute_weight=1.0,
    generator=dict(type='RoutedBasicVSRNet', spynet_pretrained=None,
                   routing=dict(patch=16, target=0.5, anneal_iters=20000,
                                static_tolerance=0.0)))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'generator': dict(lr_mult=0.0),
    'generator.backward_router': dict(lr_mult=1.0),
    'generator.forward_router': dict(lr_mult=1.0)}))
# The cosine's floor is absolute (1e-7 in the stock config): with it a zero
# LR would creep up; 0 keeps the backbone's LR exactly 0.
param_scheduler = dict(eta_min=0.0)
