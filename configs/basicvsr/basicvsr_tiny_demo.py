# Tiny CPU-sized stock BasicVSR on the demo data (tools/make_demo_data.py).
# Inherits MMagic's own REDS4 config and overrides only what CPU size needs:
# width/depth, clip length, crop, budget, data paths, no pretrained SPyNet.
_base_ = 'mmagic::basicvsr/basicvsr_2xb4_reds4.py'

experiment_name = 'basicvsr_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'
# Demo data root; override with the VSR_DEMO_DATA environment variable.
data_root = '{{$VSR_DEMO_DATA:data/demo_reds}}'
scale = 4
num_frames = 8
gt_crop = 128
max_iters = 150

model = dict(
    generator=dict(mid_channels=16, num_blocks=2, spynet_pretrained=None),
    # SPyNet frozen for about the same share of the budget as the stock
    # 5000 of 300k iterations.
    train_cfg=dict(fix_iter=3))

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
    batch_size=4,
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

train_cfg = dict(max_iters=max_iters, val_interval=25)
param_scheduler = dict(periods=[max_iters])

default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=25, out_dir=None, max_keep_ckpts=3))
log_processor = dict(window_size=10)
# Record validation PSNR against training wall-clock and samples seen
# (instead of the stock per-image visualisation, too slow on a CPU).
custom_hooks = [dict(type='ProgressRecorderHook'), dict(type='CheckpointShapeHook')]
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(vis_backends=vis_backends)
