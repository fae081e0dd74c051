# Skip routing, phase 2: backbone and estimators fine-tuned together at a low
# LR from the phase-1 checkpoint (load_from=PHASE1.pth).
_base_ = './basicvsr_routed-phase1_tiny_demo.py'
experiment_name = 'basicvsr_routed-phase2_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
# Every 2nd step runs all blocks and trains the backbone only: a backbone
# fine-tuned only under skipping drifts where blocks are closed, and running
# them there (a lower test-time threshold, or the stock generator) can diverge
# through the recurrence.
model = dict(generator=dict(routing=dict(dense_interval=2)))
optim_wrapper = dict(optimizer=dict(lr=1e-4),
                     paramwise_cfg=dict(_delete_=True, custom_keys={'spynet': dict(lr_mult=0.125)}))
