# Tiny CPU-sized stock IconVSR on the demo data.
# MMagic's iconvsr_2xb4_reds4.py is basicvsr_2xb4_reds4.py with another
# `model.generator`; mmengine forbids two bases defining the same keys, so
# this config inherits the tiny BasicVSR one (data, budget) and mirrors only
# that generator change.
_base_ = '../basicvsr/basicvsr_tiny_demo.py'

experiment_name = 'iconvsr_tiny_demo'
work_dir = f'./work_dirs/{experiment_name}'

model = dict(
    generator=dict(
        type='IconVSRNet',
        mid_channels=64,  # IconVSR's EDVR feature extractor is fixed at 64
        num_blocks=2,
        keyframe_stride=5,
        padding=2,
        spynet_pretrained=None,
        edvr_pretrained=None))
# IconVSR's refill pads each clip by 2 * padding frames taken from inside it,
# so it needs at least 5 frames; the calibrated BasicVSR clips have 4.
train_dataloader = dict(dataset=dict(num_input_frames=8))
