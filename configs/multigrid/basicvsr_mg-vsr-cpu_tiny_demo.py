# Tiny BasicVSR with the Lin et al. curriculum tuned for a CPU: the batch stays
# at the stock size (keep_volume=False), so every stage runs the stock number
# of steps on smaller crops and shorter clips. On 2 CPU cores quality follows
# the number of optimizer steps and a larger batch costs nearly proportionally
# more, so trading crop for batch (the paper's GPU rule) loses; see
# docs/BENCHMARKS.md, "multigrid in the calibrated regime".
_base_ = './basicvsr_mg-vsr_tiny_demo.py'
experiment_name = 'basicvsr_mg-vsr-cpu_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
train_cfg = dict(curriculum=dict(keep_volume=False))
