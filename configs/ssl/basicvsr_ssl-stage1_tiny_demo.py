# SSL stage 1 (sparsity learning) on the tiny stock BasicVSR: the keys a user
# adds to any BasicVSR config. Start from a trained dense checkpoint
# (load_from=...); the stage-1 model has the stock parameter names.
_base_ = '../basicvsr/basicvsr_tiny_demo.py'
experiment_name = 'basicvsr_ssl-stage1_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(
    type='SSLBasicVSR',
    generator=dict(type='SSLBasicVSRNet', stream_mode='aligned',
                   sparsity=dict(ratio=0.5, interval=5, delta=1e-4, limit=0.1)))
# Adam moves every parameter by about lr per step whatever the penalty's
# size, so in a 300-iteration stage 1 the picked scales could fall by about
# 0.3 only; 10x their LR lets the growing penalty drive them to zero in time
# (SSL's own runs are 1000x longer). Measured: docs/BENCHMARKS.md, SSL pruning.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'generator.ssl': dict(lr_mult=10.0)}))
