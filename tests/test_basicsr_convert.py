"""BasicVSR and IconVSR weights move between MMagic and BasicSR with identical outputs."""
import glob
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import run_tool


def _real_clip(root, frames=5):
    """LR frames (1, T, 3, h, w) in [0, 1], RGB, of the demo data's val clip."""
    clip = open(osp.join(root, 'meta_info_val.txt')).read().split()[0]
    paths = sorted(glob.glob(osp.join(root, 'train_sharp_bicubic', 'X4', clip, '*.png')))
    images = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in paths[:frames]]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255).unsqueeze(0)


def _nets():
    from mmagic.models.editors.basicvsr.basicvsr_net import BasicVSRNet

    from vsr_multigrid.basicsr_ext import build_arch
    torch.manual_seed(0)
    mmagic = BasicVSRNet(mid_channels=8, num_blocks=2).eval()
    with torch.no_grad():  # SPyNet's init predicts ~zero flow: make warping matter
        for name, param in mmagic.spynet.named_parameters():
            param.add_(0.02 * torch.randn_like(param))
    basicsr = build_arch('BasicVSR', num_feat=8, num_block=2).eval()
    return mmagic, basicsr


def test_mmagic_weights_in_basicsr_give_the_same_video_and_back(demo_data):
    from vsr_multigrid.basicsr_ext.convert import basicsr_to_mmagic, mmagic_to_basicsr
    mmagic, basicsr = _nets()
    converted = mmagic_to_basicsr(mmagic.state_dict())
    basicsr.load_state_dict(converted, strict=True)
    clip = _real_clip(demo_data)
    with torch.no_grad():
        a, b = mmagic(clip), basicsr(clip)
    assert a.shape == b.shape == (1, 5, 3, 4 * clip.shape[3], 4 * clip.shape[4])
    assert (a - b).abs().max() < 1e-5
    back = basicsr_to_mmagic(basicsr.state_dict())
    assert back.keys() == mmagic.state_dict().keys()
    assert all(torch.equal(back[k], v) for k, v in mmagic.state_dict().items())
    with pytest.raises(ValueError, match='no known basicvsr layer'):
        mmagic_to_basicsr(dict(mmagic.state_dict(), **{'edvr.conv_first.weight': torch.ones(1)}))


def test_convert_tool_round_trip(demo_data, tmp_path):
    mmagic, basicsr = _nets()
    src = tmp_path / 'mmagic.pth'
    torch.save(dict(state_dict={f'generator.{k}': v for k, v in mmagic.state_dict().items()}),
               src)
    run_tool([sys.executable, 'tools/convert_checkpoint.py', 'mmagic2basicsr', str(src),
              str(tmp_path / 'net_g.pth')], demo_data)
    basicsr.load_state_dict(torch.load(tmp_path / 'net_g.pth')['params'], strict=True)
    run_tool([sys.executable, 'tools/convert_checkpoint.py', 'basicsr2mmagic',
              str(tmp_path / 'net_g.pth'), str(tmp_path / 'back.pth')], demo_data)
    back = torch.load(tmp_path / 'back.pth')['state_dict']
    assert all(torch.equal(back[f'generator.{k}'], v) for k, v in mmagic.state_dict().items())
    # The whole MMagic model loads it strictly (its step counter included).
    from mmagic.models.editors.basicvsr.basicvsr import BasicVSR
    model = BasicVSR(generator=dict(type='BasicVSRNet', mid_channels=8, num_blocks=2),
                     pixel_loss=dict(type='CharbonnierLoss'))
    model.load_state_dict(back, strict=True)
    proc = run_tool([sys.executable, 'tools/convert_checkpoint.py', 'basicsr2mmagic', str(src),
                     str(tmp_path / 'bad.pth')], demo_data, check=False)
    assert proc.returncode != 0 and "'params'" in proc.stdout + proc.stderr


def test_iconvsr_weights_move_with_identical_outputs(demo_data):
    """EDVR's extractor, the refill convs and BasicVSR's layers, on a real clip.

    At MMagic's width: its IconVSRNet builds EDVR at 64 channels whatever
    ``mid_channels`` is, BasicSR's at ``num_feat``.
    """
    from mmagic.models.editors.iconvsr.iconvsr_net import IconVSRNet

    from vsr_multigrid.basicsr_ext import build_arch
    from vsr_multigrid.basicsr_ext.convert import basicsr_to_mmagic, mmagic_to_basicsr
    torch.manual_seed(0)
    mmagic = IconVSRNet(mid_channels=64, num_blocks=1, keyframe_stride=2, padding=2).eval()
    with torch.no_grad():  # make flow, alignment and refill all matter
        for param in mmagic.parameters():
            param.add_(0.01 * torch.randn_like(param))
    basicsr = build_arch('IconVSR', num_feat=64, num_block=1, keyframe_stride=2,
                         temporal_padding=2).eval()
    basicsr.load_state_dict(mmagic_to_basicsr(mmagic.state_dict(), 'iconvsr'), strict=True)
    clip = _real_clip(demo_data)
    with torch.no_grad():
        a, b = mmagic(clip), basicsr(clip)
    assert a.shape == b.shape == (1, 5, 3, 4 * clip.shape[3], 4 * clip.shape[4])
    assert (a - b).abs().max() < 1e-5
    back = basicsr_to_mmagic(basicsr.state_dict(), 'iconvsr')
    assert back.keys() == mmagic.state_dict().keys()
    assert all(torch.equal(back[k], v) for k, v in mmagic.state_dict().items())
