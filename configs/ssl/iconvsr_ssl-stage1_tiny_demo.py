# SSL stage 1 on the tiny stock IconVSR (../iconvsr/iconvsr_tiny_demo.py).
_base_ = '../iconvsr/iconvsr_tiny_demo.py'
experiment_name = 'iconvsr_ssl-stage1_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(
    type='SSLBasicVSR',
    generator=dict(type='SSLIconVSRNet', stream_mode='aligned',
                   sparsity=dict(ratio=0.5, interval=5, delta=1e-4, limit=0.1)))
# As basicvsr_ssl-stage1_tiny_demo.py: a short stage 1 needs the scales' LR 10x.
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'generator.ssl': dict(lr_mult=10.0)}))
