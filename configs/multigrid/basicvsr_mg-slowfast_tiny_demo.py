# Tiny BasicVSR with the Wu et al. (SlowFast) multigrid schedule.
_base_ = './basicvsr_mg-vsr_tiny_demo.py'
experiment_name = 'basicvsr_mg-slowfast_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
train_cfg = dict(curriculum=dict(_delete_=True, preset='slowfast'))
