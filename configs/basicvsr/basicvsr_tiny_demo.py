# Tiny CPU-sized stock BasicVSR on the demo data (tools/make_demo_data.py).
# Inherits MMagic's own REDS4 config and overrides only what CPU size needs:
# width/depth, batch, clip length, crop, LR and budget, data paths, no
# pretrained SPyNet. This is the shortened form that tools/demo.sh runs
# (about 6 minutes of training on 2 cores; +0.97 dB over bicubic on the
# native-size demo data over 6 seeds, +0.62 on the older 320-px data); the
# calibrated CPU regime of docs/BENCHMARKS.md is the same run at 1600
# iterations, ./basicvsr_tiny_calibrated.py. On a CPU the number of optimizer
# steps is what moves quality, so the batch is small (2 clips of 4 frames);
# width (64 channels) and a higher LR did not help.
_base_ = 'mmagic::basicvsr/basicvsr_2xb4_reds4.py'

experiment_name = 'basicvsr_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
# Demo data root; override with the VSR_DEMO_DATA environment variable.
data_root = '{{$VSR_DEMO_DATA:data/demo_reds}}'
scale = 4
num_frames = 4
gt_crop = 128  # LR 32 px: a multiple of SPyNet's 32, so no flow padding
max_iters = 800

model = dict(
    generator=dict(mid_channels=32, num_blocks=4, spynet_pretrained=None),
    # SPyNet frozen for about the same share of the budget as the stock
    # 5000 of 300k iterations.
    train_cfg=dict(fix_iter=13))
# The stock lr 2e-4 is for 300k iterations; 800 need a larger one.
optim_wrapper = dict(optimizer=dict(lr=1e-3))

train_pipeline = [
    dict(type='GenerateSegmentIndices', interval_list=[1]),
    dict(type='LoadImageFromFile', key='img', channel_order='rgb'),
    dict(type='LoadImageFromFile', key='gt', channel_order='rgb'),
    dict(type='SetValues', dictionary=dict(scale=scale)),
    dict(type='PairedRandomCrop', gt_patch_size=gt_crop),
    dict(type='Flip', keys=['img', 'gt'], flip_ratio=0.5,
         direction='horizontal'),
    dict(type='Flip', keys=['img', 'gt'], flip_ratio=0.5, direction='vertical'),
    dict(type='RandomTransposeHW', keys=['img', 'gt'], transpose_ratio=0.5),
    dict(type='PackInputs')
]

train_dataloader = dict(
    num_workers=2,
    batch_size=2,
    dataset=dict(
        data_root=data_root,
        data_prefix=dict(img=f'train_sharp_bicubic/X{scale}', gt='train_sharp'),
        ann_file='meta_info_train.txt',
        num_input_frames=num_frames,
        pipeline=train_pipeline))

val_dataloader = dict(
    num_workers=1,
    dataset=dict(
        data_root=data_root,
        data_prefix=dict(img=f'train_sharp_bicubic/X{scale}', gt='train_sharp'),
        ann_file='meta_info_val.txt',
        num_input_frames=None,  # whole clips, counted from the folders
        fixed_seq_len=None))
# The stock test set lists REDS4/Vimeo/Vid4; here it is the demo val clips.
test_dataloader = dict(
    _delete_=True,
    num_workers=1,
    batch_size=1,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='BasicFramesDataset',
        metainfo=dict(dataset_type='demo_reds', task_name='vsr'),
        data_root=data_root,
        data_prefix=dict(img=f'train_sharp_bicubic/X{scale}', gt='train_sharp'),
        ann_file='meta_info_val.txt',
        depth=1,
        pipeline={{_base_.val_pipeline}}))
test_evaluator = dict(
    _delete_=True, type='Evaluator', metrics=[dict(type='PSNR'), dict(type='SSIM')])

# Validating the two native-size clips costs about 80 s on 2 cores, so every
# 200 iterations (a quarter of the run), not the stock 5000.
train_cfg = dict(max_iters=max_iters, val_interval=200)
param_scheduler = dict(periods=[max_iters])

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=100, out_dir=None, max_keep_ckpts=3))
log_processor = dict(window_size=10)
# Record validation PSNR against training wall-clock and samples seen
# (instead of the stock per-image visualisation, too slow on a CPU).
custom_hooks = [dict(type='ProgressRecorderHook'), dict(type='CheckpointShapeHook')]
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(vis_backends=vis_backends)
