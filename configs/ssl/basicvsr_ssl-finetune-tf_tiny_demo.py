# SSL stage 3 with Temporal Finetuning on the tiny BasicVSR: the pruned model
# fine-tuned on clips twice the calibrated length (half the batch, the same
# volume per step), its output distilled from the frozen stage-1 model with
# late frames weighted most (vsr_multigrid/pruning/temporal.py). Run with
#   --cfg-options model.generator.channel_spec=DIR/channel_spec.json \
#       load_from=DIR/pruned.pth model.teacher.checkpoint=STAGE1.pth
# basicvsr_ssl-finetune_tiny_demo.py is the same without TF.
_base_ = './basicvsr_ssl-finetune_tiny_demo.py'
experiment_name = 'basicvsr_ssl-finetune-tf_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(type='TemporalFinetuneBasicVSR', teacher=dict(checkpoint=None),
             distill_weight=1.0, late_weight=2.0)
train_dataloader = dict(batch_size=1, dataset=dict(num_input_frames=8))
