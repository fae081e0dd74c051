# Skip routing, phase 2 on REDS4: joint fine-tuning at a low LR from phase 1.
_base_ = './basicvsr_routed-phase1_2xb4_reds4.py'
experiment_name = 'basicvsr_routed-phase2_2xb4_reds4'
work_dir = f'./work_dirs/{experiment_name}'
# Every 2nd step runs all blocks and trains the backbone only: a backbone
# fine-tuned only under skipping drifts where blocks are closed, and running
# them there (a lower test-time threshold, or the stock generator) can diverge
# through the recurrence.
# The gates' noise is annealed away over the first half of phase 2, so the
# second half trains under the test-time decisions at threshold 0.5;
# anneal_iters counts forwards from the start of phase 1 (its 300000
# iterations, the stock schedule's, plus half of phase 2's).
model = dict(generator=dict(routing=dict(dense_interval=2, temperature=0.1, min_temperature=0.1,
                                         min_noise=0.0, anneal_iters=450000)))
optim_wrapper = dict(optimizer=dict(lr=2e-5),
                     paramwise_cfg=dict(_delete_=True, custom_keys={'spynet': dict(lr_mult=0.125)}))
