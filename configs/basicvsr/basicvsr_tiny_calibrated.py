# The calibrated CPU regime of docs/BENCHMARKS.md (issue 7, item 1): the tiny
# stock BasicVSR of ./basicvsr_tiny_demo.py trained twice as long, 1600
# iterations of the same cosine. This is the cheapest setting measured whose
# stock run gains at least 1.0 dB over bicubic on the native-size demo clips
# (800 iterations: +0.97 dB over 6 seeds; 1600: see BENCHMARKS, about 17
# minutes of training on a 2-core EPYC with a partner run beside it).
# basicvsr_tiny_demo.py stays the shortened form that tools/demo.sh runs.
_base_ = './basicvsr_tiny_demo.py'
experiment_name = 'basicvsr_tiny_calibrated'
work_dir = f'./work_dirs/{experiment_name}'
max_iters = 1600
train_cfg = dict(max_iters=max_iters)
param_scheduler = dict(periods=[max_iters])
