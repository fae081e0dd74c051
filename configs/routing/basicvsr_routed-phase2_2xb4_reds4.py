# Skip routing, phase 2 on REDS4: joint fine-tuning at a low LR from phase 1.
_base_ = './basicvsr_routed-phase1_2xb4_reds4.py'
experiment_name = 'basicvsr_routed-phase2_2xb4_reds4'
work_dir = f'./work_dirs/{experiment_name}'
optim_wrapper = dict(optimizer=dict(lr=2e-5),
                     paramwise_cfg=dict(_delete_=True, custom_keys={'spynet': dict(lr_mult=0.125)}))
