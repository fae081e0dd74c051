# SSL stage 3 on the tiny IconVSR: fine-tune the model tools/prune.py sliced,
# with Temporal Finetuning (see basicvsr_ssl-finetune-tf_tiny_demo.py). Run with
#   --cfg-options model.generator.channel_spec=DIR/channel_spec.json \
#       load_from=DIR/pruned.pth model.teacher.checkpoint=STAGE1.pth
_base_ = '../iconvsr/iconvsr_tiny_demo.py'
experiment_name = 'iconvsr_ssl-finetune_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(
    type='TemporalFinetuneBasicVSR',
    generator=dict(_delete_=True, type='PrunedIconVSRNet', channel_spec=None),
    teacher=dict(checkpoint=None), distill_weight=1.0, late_weight=2.0)
train_dataloader = dict(batch_size=1, dataset=dict(num_input_frames=16))
