# The CPU-tuned curriculum (./basicvsr_mg-vsr-cpu_tiny_demo.py) on the
# calibrated budget of ../basicvsr/basicvsr_tiny_calibrated.py: the stock
# reference is 1600 iterations of the same cosine.
_base_ = './basicvsr_mg-vsr-cpu_tiny_demo.py'
experiment_name = 'basicvsr_mg-vsr-cpu_tiny_calibrated'
work_dir = f'./work_dirs/{experiment_name}'
max_iters = 1600
train_cfg = dict(max_iters=max_iters)
param_scheduler = dict(stock=dict(periods=[max_iters]))
