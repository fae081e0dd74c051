# ./basicvsr_mg-slowfast_tiny_demo.py on the calibrated budget of
# ../basicvsr/basicvsr_tiny_calibrated.py (a 1600-iteration stock cosine).
_base_ = './basicvsr_mg-slowfast_tiny_demo.py'
experiment_name = 'basicvsr_mg-slowfast_tiny_calibrated'
work_dir = f'./work_dirs/{experiment_name}'
max_iters = 1600
train_cfg = dict(max_iters=max_iters)
param_scheduler = dict(stock=dict(periods=[max_iters]))
