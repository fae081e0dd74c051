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
