# Tiny BasicVSR with large-minibatch training: stock shape, batch x2,
# LR scaled linearly with warm-up, same number of samples.
_base_ = './basicvsr_mg-vsr_tiny_demo.py'
experiment_name = 'basicvsr_mg-largebatch_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
train_cfg = dict(curriculum=dict(_delete_=True, preset='large_batch',
                                 batch_multiplier=2))
