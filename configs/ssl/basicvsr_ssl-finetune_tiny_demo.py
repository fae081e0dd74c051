# SSL stage 3: fine-tune the model that tools/prune.py sliced. Run with
#   --cfg-options model.generator.channel_spec=DIR/channel_spec.json load_from=DIR/pruned.pth
_base_ = '../basicvsr/basicvsr_tiny_demo.py'
experiment_name = 'basicvsr_ssl-finetune_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
model = dict(generator=dict(_delete_=True, type='PrunedBasicVSRNet', channel_spec=None))
