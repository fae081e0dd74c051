# SSL stage 1 on MMagic's IconVSR REDS4 config (see basicvsr_ssl-stage1_2xb4_reds4.py).
# EDVR and SPyNet are not pruned; the keyframe refill convs share their
# branch's stream scales.
_base_ = 'mmagic::iconvsr/iconvsr_2xb4_reds4.py'
custom_imports = dict(imports=['vsr_multigrid'], allow_failed_imports=False)
experiment_name = 'iconvsr_ssl-stage1_2xb4_reds4'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(
    type='SSLBasicVSR',
    generator=dict(type='SSLIconVSRNet', spynet_pretrained=None, edvr_pretrained=None,
                   stream_mode='aligned',
                   sparsity=dict(ratio=0.5, interval=5, delta=1e-4, limit=0.1)))
