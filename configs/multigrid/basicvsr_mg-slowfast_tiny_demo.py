# Tiny BasicVSR with the Wu et al. (SlowFast) multigrid schedule.
_base_ = './basicvsr_mg-vsr_tiny_demo.py'
experiment_name = 'basicvsr_mg-slowfast_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
# SlowFast's long cycle starts at T/4, which the calibrated 4-frame clips
# cannot give (BasicVSR needs 2 frames): the same four (t, s) steps, one frame
# step up: (1/2, 1/sqrt2), (1/2, 1), (1, 1/sqrt2), (1, 1).
train_cfg = dict(curriculum=dict(
    _delete_=True, preset='slowfast',
    long_cycle_factors=[(0.5, 0.5 ** 0.5), (0.5, 1.0), (1.0, 0.5 ** 0.5), (1.0, 1.0)]))
