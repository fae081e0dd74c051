"""The video -> REDS tool on real footage: layout, split, LR kernel, LMDB, errors."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from vsr_multigrid.data.video_to_reds import (bicubic_downsample, build_reds_dataset,
                                               demo_video_paths, plan_clips,
                                               read_video_frames)


def test_layout_and_split(demo_data):
    with open(osp.join(demo_data, 'clips.json')) as f:
        clips = json.load(f)
    train = [c['name'] for c in clips if c['split'] == 'train']
    val = [c['name'] for c in clips if c['split'] == 'val']
    assert train == ['000', '001'] and val == ['002']
    for split, names in (('train', train), ('val', val)):
        with open(osp.join(demo_data, f'meta_info_{split}.txt')) as f:
            lines = f.read().split()
        assert lines[0::3] == names  # "<clip> <frames> (h,w,c)"
        assert lines[1::3] == ['12'] * len(names)
    for name in train + val:
        gt = sorted(os.listdir(osp.join(demo_data, 'train_sharp', name)))
        lr = sorted(os.listdir(osp.join(demo_data, 'train_sharp_bicubic', 'X4', name)))
        assert gt == lr == [f'{i:08d}.png' for i in range(12)]
    gt = cv2.imread(osp.join(demo_data, 'train_sharp', '002', '00000000.png'))
    lr = cv2.imread(osp.join(demo_data, 'train_sharp_bicubic', 'X4', '002', '00000000.png'))
    assert gt.shape == (136, 320, 3) and lr.shape == (34, 80, 3)


def test_val_clip_frames_never_in_training(demo_data):
    """The held-out clip is later footage than every training clip."""
    with open(osp.join(demo_data, 'clips.json')) as f:
        clips = json.load(f)
    val = [c for c in clips if c['split'] == 'val']
    val_frames = {(c['source'], c['first_frame'] + i) for c in val for i in range(c['num_frames'])}
    train_frames = {(c['source'], c['first_frame'] + i)
                    for c in clips if c['split'] == 'train' for i in range(c['num_frames'])}
    assert val_frames and not (val_frames & train_frames)


def test_lr_is_matlab_bicubic_of_gt(demo_data):
    gt = cv2.imread(osp.join(demo_data, 'train_sharp', '000', '00000003.png'))
    lr = cv2.imread(osp.join(demo_data, 'train_sharp_bicubic', 'X4', '000', '00000003.png'))
    assert np.array_equal(bicubic_downsample(gt, 4), lr)
    # Antialiased bicubic differs from plain cv2 bicubic (which aliases).
    plain = cv2.resize(gt, (gt.shape[1] // 4, gt.shape[0] // 4), interpolation=cv2.INTER_CUBIC)
    assert np.abs(plain.astype(int) - lr.astype(int)).mean() > 0.5
    # and it is a faithful downscale: close to area averaging.
    area = cv2.resize(gt, (gt.shape[1] // 4, gt.shape[0] // 4), interpolation=cv2.INTER_AREA)
    assert np.abs(area.astype(int) - lr.astype(int)).mean() < 6


def test_lmdb_round_trip_basicsr_and_mmengine(demo_data):
    """Frames read back from LMDB by BasicSR's and mmengine's readers equal the PNGs."""
    from vsr_multigrid.compat.basicsr import import_basicsr
    import_basicsr()
    from basicsr.utils import FileClient, imfrombytes
    from mmengine.fileio.backends import LmdbBackend

    gt_lmdb = osp.join(demo_data, 'train_sharp.lmdb')
    lr_lmdb = osp.join(demo_data, 'train_sharp_bicubic_X4.lmdb')
    client = FileClient('lmdb', db_paths=[lr_lmdb, gt_lmdb], client_keys=['lq', 'gt'])
    with open(osp.join(gt_lmdb, 'meta_info.txt')) as f:
        meta = f.read().splitlines()
    assert len(meta) == 36 and meta[0] == '000/00000000.png (136,320,3) 1'
    for key, folder, lmdb_path in (('gt', 'train_sharp', gt_lmdb),
                                   ('lq', 'train_sharp_bicubic/X4', lr_lmdb)):
        for clip, frame in (('000', 0), ('001', 5), ('002', 11)):
            png = cv2.imread(osp.join(demo_data, folder, clip, f'{frame:08d}.png'))
            from_basicsr = imfrombytes(client.get(f'{clip}/{frame:08d}', key),
                                       float32=False)
            from_mmengine = cv2.imdecode(
                np.frombuffer(LmdbBackend(lmdb_path).get(f'{clip}/{frame:08d}'), np.uint8),
                cv2.IMREAD_COLOR)
            assert np.array_equal(from_basicsr, png)
            assert np.array_equal(from_mmengine, png)


def test_missing_file_names_it(tmp_path):
    missing = str(tmp_path / 'nope.mp4')
    with pytest.raises(FileNotFoundError, match='nope.mp4'):
        build_reds_dataset([missing], str(tmp_path / 'out'))
    assert not (tmp_path / 'out').exists()


def test_unreadable_video_names_it(tmp_path):
    bad = tmp_path / 'broken.mp4'
    bad.write_bytes(b'this is not a video' * 100)
    with pytest.raises(ValueError, match='broken.mp4.*video'):
        read_video_frames(str(bad))


def test_too_few_frames_says_how_many(tmp_path):
    bikes = [p for p in demo_video_paths() if p.endswith('bikes.mp4')]
    with pytest.raises(ValueError, match='has 20 frames; at least 24'):
        build_reds_dataset(bikes, str(tmp_path / 'out'), clip_len=12, max_frames=20)
    with pytest.raises(ValueError, match='clip_len must be >= 2'):
        build_reds_dataset(bikes, str(tmp_path / 'o2'), clip_len=1)


def test_plan_clips_holds_out_last_clip():
    clips = plan_clips(130, 50, 'v.mp4', 3, (8, 8, 3))
    assert [(c.name, c.first_frame, c.split) for c in clips] == [
        ('003', 0, 'train'), ('004', 50, 'val')]


def test_lmdb_added_to_an_existing_demo_set_without_rebuilding(tmp_path):
    """``make_demo_data.py --lmdb`` on a set built without it packs the frames
    already there; a later plain run reuses the set (it has more, not less)."""
    from make_demo_data import main
    bikes = [p for p in demo_video_paths() if p.endswith('bikes.mp4')]
    out = str(tmp_path / 'demo')
    assert main([bikes[0], '--out', out, '--max-width', '160', '--clip-len', '40']) == 0
    frame = osp.join(out, 'train_sharp', '000', '00000000.png')
    stamp = os.stat(frame).st_mtime_ns
    assert main([bikes[0], '--out', out, '--max-width', '160', '--clip-len', '40',
                 '--lmdb']) == 0
    assert os.stat(frame).st_mtime_ns == stamp  # not rebuilt
    with open(osp.join(out, 'clips.json')) as f:
        expected = {f"{c['name']}/{i:08d}" for c in json.load(f) for i in range(c['num_frames'])}
    for db in ('train_sharp.lmdb', 'train_sharp_bicubic_X4.lmdb'):
        with open(osp.join(out, db, 'meta_info.txt')) as f:
            assert {line.split('.')[0] for line in f if line.strip()} == expected
    assert main([bikes[0], '--out', out, '--max-width', '160', '--clip-len', '40']) == 0
    assert os.stat(frame).st_mtime_ns == stamp
