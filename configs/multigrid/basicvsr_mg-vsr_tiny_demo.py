# The tiny stock BasicVSR (../basicvsr/basicvsr_tiny_demo.py) with the Lin et
# al. multigrid curriculum: the same keys a user adds to any MMagic config.
_base_ = '../basicvsr/basicvsr_tiny_demo.py'
experiment_name = 'basicvsr_mg-vsr_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
train_dataloader = dict(dataset=dict(type='MultigridFramesDataset'),
                        batch_sampler=dict(type='MultigridBatchSampler'))
train_cfg = dict(type='MultigridTrainLoop', curriculum=dict(preset='vsr'))
param_scheduler = dict(_delete_=True, type='MultigridLR', by_epoch=False,
                       stock={{_base_.param_scheduler}})
