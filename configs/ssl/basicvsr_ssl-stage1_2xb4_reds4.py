# SSL stage 1 (sparsity learning) on MMagic's BasicVSR REDS4 config. Start
# from a trained dense BasicVSR (the stage-1 generator keeps the stock
# parameter names), e.g.
#   tools/dist_train.sh configs/ssl/basicvsr_ssl-stage1_2xb4_reds4.py 2 \
#       --cfg-options load_from=DENSE.pth
# then tools/prune.py (stage 2) and basicvsr_ssl-finetune_2xb4_reds4.py (stage 3).
_base_ = 'mmagic::basicvsr/basicvsr_2xb4_reds4.py'
custom_imports = dict(imports=['vsr_multigrid'], allow_failed_imports=False)
experiment_name = 'basicvsr_ssl-stage1_2xb4_reds4'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(
    type='SSLBasicVSR',
    # The weights come from load_from: no pretrained SPyNet download.
    generator=dict(type='SSLBasicVSRNet', spynet_pretrained=None, stream_mode='aligned',
                   sparsity=dict(ratio=0.5, interval=5, delta=1e-4, limit=0.1)))
