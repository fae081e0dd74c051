# The tiny stock IconVSR with the Lin et al. multigrid curriculum.
# min_frames follows from the generator (2 * padding + 1 = 5 for IconVSR).
_base_ = '../iconvsr/iconvsr_tiny_demo.py'
experiment_name = 'iconvsr_mg-vsr_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
train_dataloader = dict(dataset=dict(type='MultigridFramesDataset'),
                        batch_sampler=dict(type='MultigridBatchSampler'))
train_cfg = dict(type='MultigridTrainLoop', curriculum=dict(preset='vsr'))
param_scheduler = dict(_delete_=True, type='MultigridLR', by_epoch=False,
                       stock={{_base_.param_scheduler}})
