# Skip routing, phase 2: backbone and estimators fine-tuned together at a low
# LR from the phase-1 checkpoint (load_from=PHASE1.pth).
_base_ = './basicvsr_routed-phase1_tiny_demo.py'
experiment_name = 'basicvsr_routed-phase2_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
# Every 2nd step runs all blocks and trains the backbone only: a backbone
# fine-tuned only under skipping drifts where blocks are closed, and running
# them there (a lower test-time threshold, or the stock generator) can diverge
# through the recurrence.
#
# The training gates' logistic noise is annealed away (min_noise=0), so the
# second half of phase 2 trains under exactly the decisions that threshold
# 0.5 makes at test time, and the compute loss can only be met by decided
# gates (docs/BENCHMARKS.md, stop 25: two of three seeds ended decided at 52%
# executed within 0.02 dB of dense, one of them -0.045 dB before; the third
# stayed undecided). anneal_iters counts training forwards from the
# start of phase 1 (the counter is part of the weights load_from brings):
# phase 1's 800 plus half of phase 2's 800; the temperature stays at phase
# 1's final 0.1.
model = dict(generator=dict(routing=dict(dense_interval=2, temperature=0.1, min_temperature=0.1,
                                         min_noise=0.0, anneal_iters=1200)))
optim_wrapper = dict(optimizer=dict(lr=1e-4),
                     paramwise_cfg=dict(_delete_=True, custom_keys={'spynet': dict(lr_mult=0.125)}))
