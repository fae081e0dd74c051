"""The presets: each turns its config keys into phases of (B, T, S, lr factor).

A builder takes ``(cfg, base, stock_iters, min_frames, max_crop, multiple)``
and returns ``(specs, budget, notes)``, ``specs`` being ``(name, stage,
shapes, num_iters, lr_factor)`` per phase; :func:`assemble` adds warm-up and
start iterations. :data:`PRESET_DEFAULTS` lists every key a preset accepts.
"""
from typing import Dict, List, Optional, Sequence, Tuple

from .checks import (BUDGETS, EPS, LR_SCALINGS, ceil_iters, check_choice, check_factors,
                     check_fractions, check_int, check_positive, check_shape, is_int,
                     is_number, lr_scale, round_crop)
from .shapes import Phase, Shape, cycle_sum
from .slowfast import LONG_CYCLE_FACTORS, SHORT_CYCLE_FACTORS, slowfast_epochs

__all__ = ['PRESET_DEFAULTS', 'BUILDERS', 'assemble']


def _batch(shape: Shape) -> int:
    return shape.batch_size

#: Allowed keys and their defaults, per preset. ``crop_multiple=None`` means
#: ``scale * 4`` (see :func:`build_schedule`); ``max_batch_size=None`` means
#: ``4 * B0`` for ``'vsr'`` and no cap for ``'slowfast'``.
PRESET_DEFAULTS: Dict[str, dict] = {
    'vsr': dict(
        crop_factors=(0.5, 0.75, 1.0),
        frame_factors=(0.5, 0.75, 1.0),
        stage_fractions=(0.25, 0.25, 0.5),
        max_batch_size=None,
        keep_volume=True,
        lr_scaling='linear',
        warmup_iters=0,
        warmup_start=0.1,
        warmup_on='increase',
        budget='samples',
        epoch_factor=1.0,
        crop_multiple=None,
    ),
    'slowfast': dict(
        long_cycle=True,
        long_cycle_factors=LONG_CYCLE_FACTORS,
        short_cycle=True,
        short_cycle_factors=SHORT_CYCLE_FACTORS,
        lr_steps=(0.0, 0.8),
        epoch_factor=1.5,
        lr_scaling='linear',
        max_batch_size=None,
        warmup_iters=0,
        warmup_start=0.1,
        warmup_on='increase',
        crop_multiple=None,
    ),
    'large_batch': dict(
        batch_multiplier=2,
        lr_scaling='linear',
        warmup_iters=None,
        warmup_start=0.1,
        warmup_on='increase',
        epoch_factor=1.0,
    ),
    'phases': dict(
        phases=None,
        budget='samples',
        epoch_factor=1.0,
        lr_scaling='linear',
        warmup_iters=0,
        warmup_start=0.1,
        warmup_on='increase',
        crop_multiple=None,
    ),
}



def _iterations_split(total: float, fractions: Sequence[float], key: str) -> List[int]:
    """Split ``total`` iterations by fractions with cumulative rounding (exact total)."""
    ends, cumulative = [], 0.0
    for fraction in fractions:
        cumulative += fraction
        ends.append(int(round(total * cumulative)))
    counts = [b - a for a, b in zip([0] + ends, ends)]
    if any(c <= 0 for c in counts):
        raise ValueError(f"cfg key '{key}': with budget='iterations' a phase gets zero "
                         f'iterations ({counts} of {total:g}); lengthen the run or use '
                         'larger fractions')
    return counts


def _iters_for_samples(targets: Sequence[float],
                       cycles: Sequence[Sequence[Shape]]) -> List[int]:
    """Iterations per phase so that the clips seen track the cumulative targets.

    Phase ``j`` runs the fewest iterations (at least one) that bring the clips
    seen so far to ``sum(targets[:j + 1])``. Overshoot is carried into the
    next phase instead of accumulating, so the total exceeds the budget by
    less than one batch (more only if a phase is forced to its one iteration).
    Short cycles are counted exactly.
    """
    counts, done, goal = [], 0, 0.0
    for target, shapes in zip(targets, cycles):
        goal += target
        need = goal - done
        mean = sum(s.batch_size for s in shapes) / len(shapes)
        num = max(1, ceil_iters(need / mean))
        # The mean is exact only per whole cycle; fix up within one cycle.
        while num > 1 and cycle_sum(shapes, num - 1, _batch) >= need - EPS:
            num -= 1
        while cycle_sum(shapes, num, _batch) < need - EPS:
            num += 1
        counts.append(num)
        done += cycle_sum(shapes, num, _batch)
    return counts


def assemble(specs, base: Shape, warmup_iters: int, warmup_start: float,
             warmup_on: str = 'increase') -> Tuple[Phase, ...]:
    """Turn ``(name, stage, shapes, num_iters, lr_factor)`` into contiguous phases.

    Warm-up starts a phase whose LR factor rises above the previous phase's
    (the first phase compares with the stock factor 1); with ``warmup_on=
    'change'`` also where it falls. A phase whose batch shrinks thus keeps its
    (lower) LR instead of dipping to ``warmup_start`` times it. It is clipped
    to the phase length.
    """
    phases, start, previous = [], 0, 1.0
    for name, stage, shapes, num_iters, lr_factor in specs:
        changed = lr_factor > previous * (1 + EPS) if warmup_on == 'increase' \
            else abs(lr_factor - previous) > EPS * previous
        warmup = min(warmup_iters, num_iters) if changed else 0
        phases.append(Phase(start_iter=start, num_iters=num_iters, shapes=tuple(shapes),
                            lr_factor=float(lr_factor), warmup_iters=warmup, stage=stage,
                            name=name, warmup_start=warmup_start))
        start += num_iters
        previous = lr_factor
    return tuple(phases)


def _lr_scaling(cfg: dict) -> str:
    return check_choice('lr_scaling', cfg['lr_scaling'], LR_SCALINGS)


def _max_batch(cfg: dict, base: Shape, default: Optional[int]) -> Optional[int]:
    value = cfg['max_batch_size']
    if value is None:
        return default
    if not is_int(value) or value < base.batch_size:
        raise ValueError(f"cfg key 'max_batch_size': expected None or an int >= the stock "
                         f'batch size {base.batch_size}, got {value!r}')
    return value


def _build_vsr(cfg, base, stock_iters, min_frames, max_crop, multiple):
    crop_factors = check_factors('crop_factors', cfg['crop_factors'])
    frame_factors = check_factors('frame_factors', cfg['frame_factors'])
    fractions = check_fractions('stage_fractions', cfg['stage_fractions'], len(crop_factors))
    cap = _max_batch(cfg, base, 4 * base.batch_size)
    mode = _lr_scaling(cfg)
    budget = check_choice('budget', cfg['budget'], BUDGETS)
    epoch_factor = check_positive('epoch_factor', cfg['epoch_factor'])
    if not isinstance(cfg['keep_volume'], bool):
        raise ValueError(f"cfg key 'keep_volume': expected a bool, got {cfg['keep_volume']!r}")

    stages, notes = [], []  # (stage, shape, share of the budget)
    for stage, (crop_factor, fraction) in enumerate(zip(crop_factors, fractions)):
        crop = round_crop(base.crop_size * crop_factor, base.crop_size, multiple)
        for frame_factor in frame_factors:
            wanted = int(round(base.num_frames * frame_factor))
            frames = max(min_frames, wanted)
            if frames != wanted:
                note = (f'frame_factors: {frame_factor:g} x T={base.num_frames} gives '
                        f'T={wanted}, raised to min_frames={min_frames} (the model\'s '
                        'shortest clip)')
                if note not in notes:
                    notes.append(note)
            batch = base.batch_size
            if cfg['keep_volume']:
                exact = base.volume / (frames * crop ** 2)
                batch = min(cap, max(1, int(round(exact))))
            shape = check_shape('crop_factors', Shape(batch, frames, crop), base,
                                min_frames, max_crop)
            share = fraction / len(frame_factors)
            if stages and stages[-1][:2] == (stage, shape):
                # Two factors gave the same shape: one phase with both shares.
                notes.append(f'stage {stage}: two frame_factors give the same shape '
                             f'S{crop}-T{frames}; merged into one phase')
                stages[-1] = (stage, shape, stages[-1][2] + share)
            else:
                stages.append((stage, shape, share))

    if budget == 'samples':
        samples = stock_iters * base.batch_size * epoch_factor
        counts = _iters_for_samples([samples * share for *_, share in stages],
                                    [(s,) for _, s, _ in stages])
    else:
        counts = _iterations_split(stock_iters * epoch_factor, [f for *_, f in stages],
                                   'stage_fractions')
    specs = [(f'S{s.crop_size}-T{s.num_frames}', stage, (s,), n,
              lr_scale(s.batch_size, base.batch_size, mode))
             for (stage, s, _), n in zip(stages, counts)]
    return specs, budget, tuple(notes)


def _check_long_cycle_factors(values) -> Tuple[Tuple[float, float], ...]:
    ok = isinstance(values, (list, tuple)) and values and all(
        isinstance(v, (list, tuple)) and len(v) == 2
        and all(is_number(x) and 0 < x <= 1 for x in v) for v in values)
    if not ok:
        raise ValueError("cfg key 'long_cycle_factors': expected a non-empty list of (t, s) "
                         f'pairs in (0, 1], coarse to fine, got {values!r}')
    return tuple((float(t), float(s)) for t, s in values)


def _check_lr_steps(values) -> Tuple[float, ...]:
    if not isinstance(values, (list, tuple)) or not values or values[0] != 0 \
            or not all(is_number(v) and 0 <= v < 1 for v in values) \
            or any(b <= a for a, b in zip(values, values[1:])) or len(values) < 2:
        raise ValueError("cfg key 'lr_steps': expected SlowFast's LR steps as fractions of "
                         'the stock run: strictly increasing, starting at 0.0, at least two, '
                         f'all < 1 (the last starts the fine-tune), got {values!r}')
    return tuple(float(v) for v in values)


def _build_slowfast(cfg, base, stock_iters, min_frames, max_crop, multiple):
    for key in ('long_cycle', 'short_cycle'):
        if not isinstance(cfg[key], bool):
            raise ValueError(f"cfg key '{key}': expected a bool, got {cfg[key]!r}")
    long_factors = _check_long_cycle_factors(cfg['long_cycle_factors'])
    short_factors = check_factors('short_cycle_factors', cfg['short_cycle_factors'],
                                   increasing=False)
    lr_steps = _check_lr_steps(cfg['lr_steps'])
    epoch_factor = check_positive('epoch_factor', cfg['epoch_factor'])
    cap = _max_batch(cfg, base, None)
    mode = _lr_scaling(cfg)

    def capped(batch):
        return batch if cap is None else min(cap, batch)

    if not cfg['long_cycle']:
        long_factors = ((1.0, 1.0),)
    cycles = []  # per long-cycle shape: its short cycle + itself (the last sets the LR)
    for t_factor, s_factor in long_factors:
        frames = int(round(base.num_frames * t_factor))
        crop = round_crop(round(base.crop_size * s_factor), base.crop_size, multiple)
        multiplier = max(1, int(round(base.volume / base.batch_size / (frames * crop ** 2))))
        long_shape = check_shape('long_cycle_factors',
                                  Shape(capped(base.batch_size * multiplier), frames, crop),
                                  base, min_frames, max_crop)
        shapes = []
        for factor in short_factors if cfg['short_cycle'] else ():
            # Never larger than the long-cycle crop: a larger one would get a
            # batch factor round((S/c)**2) of 0.
            short = min(crop, round_crop(round(base.crop_size * factor), base.crop_size,
                                          multiple))
            batch = capped(long_shape.batch_size * max(1, int(round((crop / short) ** 2))))
            shapes.append(Shape(batch, frames, short))
        cycles.append(tuple(shapes) + (long_shape,))

    # Epoch unit = one stock iteration (B0 clips): max_epoch = stock_iters and
    # the LR steps are fractions of it. Average multipliers use the actual
    # (rounded, capped) batches so every shape gets equal iterations.
    avg = [sum(s.batch_size for s in c) / len(c) / base.batch_size for c in cycles]
    if cfg['long_cycle']:
        steps = [f * stock_iters for f in lr_steps]
        split = slowfast_epochs(steps, stock_iters, avg, epoch_factor)
    else:
        split = [(0, 0, stock_iters * epoch_factor)]
    final_stage = len(lr_steps) - 1 if cfg['long_cycle'] else 0
    counts = _iters_for_samples([epochs * base.batch_size for *_, epochs in split],
                                [cycles[index] for _, index, _ in split])
    specs = []
    for (stage, index, _), num_iters in zip(split, counts):
        cycle = cycles[index]
        long_shape = cycle[-1]
        kind = 'finetune' if cfg['long_cycle'] and stage == final_stage else f'lr{stage}'
        specs.append((f'{kind}-T{long_shape.num_frames}-S{long_shape.crop_size}', stage, cycle,
                      num_iters, lr_scale(long_shape.batch_size, base.batch_size, mode)))
    return specs, 'samples', ()


def _build_large_batch(cfg, base, stock_iters, min_frames, max_crop, multiple):
    multiplier = check_int('batch_multiplier', cfg['batch_multiplier'], 1)
    mode = _lr_scaling(cfg)
    epoch_factor = check_positive('epoch_factor', cfg['epoch_factor'])
    num_iters = ceil_iters(stock_iters * epoch_factor / multiplier)
    shape = Shape(base.batch_size * multiplier, base.num_frames, base.crop_size)
    specs = [(f'B{shape.batch_size}-T{shape.num_frames}-S{shape.crop_size}', 0, (shape,),
              num_iters, lr_scale(shape.batch_size, base.batch_size, mode))]
    return specs, 'samples', ()


def _build_phases(cfg, base, stock_iters, min_frames, max_crop, multiple):
    entries = cfg['phases']
    if not isinstance(entries, (list, tuple)) or not entries or not all(
            isinstance(e, (list, tuple)) and len(e) == 4 for e in entries):
        raise ValueError("cfg key 'phases': expected a non-empty list of "
                         f'(fraction, B, T, S), got {entries!r}')
    fractions = check_fractions('phases', [e[0] for e in entries])
    budget = check_choice('budget', cfg['budget'], BUDGETS)
    epoch_factor = check_positive('epoch_factor', cfg['epoch_factor'])
    mode = _lr_scaling(cfg)
    shapes = []
    for index, (_, batch, frames, crop) in enumerate(entries):
        key = f'phases[{index}]'
        if not all(is_int(v) and v > 0 for v in (batch, frames, crop)):
            raise ValueError(f"cfg key '{key}': B, T, S must be positive ints, got "
                             f'{(batch, frames, crop)!r}')
        if crop != base.crop_size and crop % multiple:
            raise ValueError(f"cfg key '{key}': crop S={crop} must be the stock crop "
                             f'{base.crop_size} or a multiple of crop_multiple={multiple} '
                             f'(e.g. {max(multiple, crop // multiple * multiple)})')
        shapes.append(check_shape(key, Shape(batch, frames, crop), base, min_frames,
                                   max_crop))
    if budget == 'samples':
        samples = stock_iters * base.batch_size * epoch_factor
        counts = _iters_for_samples([samples * f for f in fractions], [(s,) for s in shapes])
    else:
        counts = _iterations_split(stock_iters * epoch_factor, fractions, 'phases')
    specs = [(f'phase{i}-B{s.batch_size}-T{s.num_frames}-S{s.crop_size}', i, (s,), n,
              lr_scale(s.batch_size, base.batch_size, mode))
             for i, (s, n) in enumerate(zip(shapes, counts))]
    return specs, budget, ()


BUILDERS = dict(vsr=_build_vsr, slowfast=_build_slowfast, large_batch=_build_large_batch,
                 phases=_build_phases)
