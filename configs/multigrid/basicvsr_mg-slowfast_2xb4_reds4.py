# MMagic's BasicVSR REDS4 config with the Wu et al. (CVPR 2020) multigrid
# schedule: long cycle of (T, S) shapes at constant batch volume, short cycle
# of crops batch by batch, LR scaled with the batch multiplier.
_base_ = './basicvsr_mg-vsr_2xb4_reds4.py'
experiment_name = 'basicvsr_mg-slowfast_2xb4_reds4'
work_dir = f'./work_dirs/{experiment_name}'
train_cfg = dict(curriculum=dict(_delete_=True, preset='slowfast'))
