# SSL stage 3 on MMagic's IconVSR REDS4 config (see basicvsr_ssl-finetune_2xb4_reds4.py).
_base_ = 'mmagic::iconvsr/iconvsr_2xb4_reds4.py'
custom_imports = dict(imports=['vsr_multigrid'], allow_failed_imports=False)
experiment_name = 'iconvsr_ssl-finetune_2xb4_reds4'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(
    type='TemporalFinetuneBasicVSR',
    generator=dict(_delete_=True, type='PrunedIconVSRNet', channel_spec=None),
    teacher=dict(checkpoint=None), distill_weight=1.0, late_weight=2.0)
train_dataloader = dict(batch_size=2, dataset=dict(num_input_frames=30))
