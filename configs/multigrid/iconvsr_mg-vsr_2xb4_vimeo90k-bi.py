# MMagic's IconVSR Vimeo-90K (BI) config with the Lin et al. (AAAI 2023) multigrid
# curriculum: spatial stages of growing crop, clip length T/2, 3T/4, T inside
# each stage, batch rescaled to the stock volume, LR scaled with the batch.
_base_ = 'mmagic::iconvsr/iconvsr_2xb4_vimeo90k-bi.py'
custom_imports = dict(imports=['vsr_multigrid'], allow_failed_imports=False)
experiment_name = 'iconvsr_mg-vsr_2xb4_vimeo90k-bi'
work_dir = f'./work_dirs/{experiment_name}'
train_dataloader = dict(dataset=dict(type='MultigridFramesDataset'),
                        batch_sampler=dict(type='MultigridBatchSampler'))
train_cfg = dict(type='MultigridTrainLoop', curriculum=dict(preset='vsr'))
param_scheduler = dict(_delete_=True, type='MultigridLR', by_epoch=False,
                       stock={{_base_.param_scheduler}})
