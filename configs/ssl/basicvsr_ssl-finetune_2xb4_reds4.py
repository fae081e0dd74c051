# SSL stage 3 on MMagic's BasicVSR REDS4 config: fine-tune the model that
# tools/prune.py sliced, with Temporal Finetuning (clips twice the stock
# length, output distilled from the stage-1 model, late frames weighted most).
#   tools/dist_train.sh configs/ssl/basicvsr_ssl-finetune_2xb4_reds4.py 2 --cfg-options \
#       model.generator.channel_spec=DIR/channel_spec.json load_from=DIR/pruned.pth \
#       model.teacher.checkpoint=STAGE1.pth
_base_ = 'mmagic::basicvsr/basicvsr_2xb4_reds4.py'
custom_imports = dict(imports=['vsr_multigrid'], allow_failed_imports=False)
experiment_name = 'basicvsr_ssl-finetune_2xb4_reds4'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(
    type='TemporalFinetuneBasicVSR',
    generator=dict(_delete_=True, type='PrunedBasicVSRNet', channel_spec=None),
    teacher=dict(checkpoint=None), distill_weight=1.0, late_weight=2.0)
# Twice the clip length at half the batch: the stock volume per step.
train_dataloader = dict(batch_size=2, dataset=dict(num_input_frames=30))
