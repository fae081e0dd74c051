"""Unit tests of the pure-Python curriculum builder (no torch, fast)."""
import json
import math

import pytest

from vsr_multigrid.multigrid.schedule import (PRESET_DEFAULTS, Phase, Schedule, Shape,
                                              build_schedule, lr_scale,
                                              slowfast_long_cycle_epochs)

BASE = Shape(batch_size=4, num_frames=16, crop_size=256)
STOCK = 3000
KINETICS_STEPS = (0, 94 / 239, 154 / 239, 196 / 239)

CONFIGS = {
    'vsr': dict(preset='vsr'),
    'vsr_iters': dict(preset='vsr', budget='iterations', lr_scaling='sqrt'),
    'vsr_warmup': dict(preset='vsr', warmup_iters=7, warmup_start=0.2),
    'vsr_flat': dict(preset='vsr', keep_volume=False),
    'slowfast': dict(preset='slowfast'),
    'slowfast_kinetics': dict(preset='slowfast', lr_steps=KINETICS_STEPS, warmup_iters=3),
    'slowfast_no_short': dict(preset='slowfast', short_cycle=False),
    'slowfast_short_only': dict(preset='slowfast', long_cycle=False),
    'slowfast_capped': dict(preset='slowfast', max_batch_size=24),
    'large_batch': dict(preset='large_batch'),
    'large_batch_sqrt': dict(preset='large_batch', batch_multiplier=4, lr_scaling='sqrt'),
    'phases': dict(preset='phases', phases=[(0.5, 8, 8, 128), (0.5, 4, 16, 256)]),
    'phases_iters': dict(preset='phases', budget='iterations', warmup_iters=5,
                         phases=[(0.25, 16, 8, 128), (0.75, 4, 16, 256)]),
}


def _build(name, base=BASE, stock=STOCK, **kwargs):
    return build_schedule(CONFIGS[name], base, stock, **kwargs)


def _expand(schedule):
    """Brute-force per-iteration (shape, lr factor) from the phase definitions."""
    shapes, factors = [], []
    for phase in schedule.phases:
        for k in range(phase.num_iters):
            shapes.append(phase.shapes[k % len(phase.shapes)])
            factor = phase.lr_factor
            if k < phase.warmup_iters:
                w0 = phase.warmup_start
                factor *= w0 + (1 - w0) * (k + 1) / phase.warmup_iters
            factors.append(factor)
    return shapes, factors


# -- invariants --------------------------------------------------------------
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_phases_are_contiguous_and_cover_total(name):
    schedule = _build(name)
    assert schedule.total_iters == sum(p.num_iters for p in schedule.phases)
    start = 0
    for phase in schedule.phases:
        assert phase.start_iter == start and phase.num_iters > 0
        start += phase.num_iters
    assert schedule.preset == CONFIGS[name]['preset']


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_queries_agree_with_brute_force_expansion(name):
    small = Shape(2, 16, 256)
    schedule = _build(name, base=small, stock=60)
    shapes, factors = _expand(schedule)
    assert len(shapes) == schedule.total_iters
    samples = 0
    total_samples = sum(s.batch_size for s in shapes)
    for i, (shape, factor) in enumerate(zip(shapes, factors)):
        assert schedule.samples_before(i) == samples
        # The stock curve is laid over the whole curriculum by clips seen.
        assert schedule.stock_progress_iter(i) == pytest.approx(60 * samples / total_samples)
        assert schedule.shape_at(i) == shape
        assert schedule.lr_factor_at(i) == pytest.approx(factor, rel=1e-12)
        samples += shape.batch_size
    assert schedule.samples_before(schedule.total_iters) == samples
    volume = sum(s.volume for s in shapes)
    assert schedule.compute_ratio == pytest.approx(60 * small.volume / volume)


def test_slowfast_short_cycle_is_cycled_batch_by_batch():
    schedule = _build('slowfast')
    phase = schedule.phases[0]
    assert len(phase.shapes) == 3
    got = [schedule.shape_at(phase.start_iter + k) for k in range(7)]
    assert got == [phase.shapes[k % 3] for k in range(7)]
    # Short-cycle crops are smaller, their batches larger; the LR follows the long shape.
    assert [s.crop_size for s in phase.shapes] == sorted(s.crop_size for s in phase.shapes)
    assert phase.shapes[0].batch_size >= phase.shapes[-1].batch_size
    assert phase.lr_factor == phase.shapes[-1].batch_size / BASE.batch_size


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_deterministic(name):
    first, second = _build(name), _build(name)
    assert first == second
    assert json.dumps(first.to_dict()) == json.dumps(second.to_dict())


def test_out_of_range_iterations_are_rejected():
    schedule = _build('vsr')
    total = schedule.total_iters
    for bad in (-1, total, 1.5, True):
        with pytest.raises(ValueError, match='iteration'):
            schedule.shape_at(bad)
        with pytest.raises(ValueError, match='iteration'):
            schedule.lr_factor_at(bad)
    schedule.samples_before(total)  # the end itself is a valid count
    with pytest.raises(ValueError, match='iteration'):
        schedule.samples_before(total + 1)


def test_schedule_rejects_gaps_and_empty_phases():
    shape = (Shape(1, 2, 16),)
    ok = Phase(0, 3, shape, 1.0, 0, 0, 'a')
    with pytest.raises(ValueError, match='contiguous'):
        Schedule((ok, Phase(4, 1, shape, 1.0, 0, 0, 'b')), shape[0], 3, 'samples', 'phases')
    with pytest.raises(ValueError, match='expected > 0'):
        Schedule((ok, Phase(3, 0, shape, 1.0, 0, 0, 'b')), shape[0], 3, 'samples', 'phases')


# -- vsr preset ----------------------------------------------------------------
def test_vsr_stages_grow_crop_then_clip_length():
    schedule = _build('vsr')
    assert [p.stage for p in schedule.phases] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    crops = [p.shapes[0].crop_size for p in schedule.phases]
    assert crops == sorted(crops) and crops[-1] == BASE.crop_size
    assert set(crops) == {128, 192, 256}
    for stage in range(3):
        frames = [p.shapes[0].num_frames for p in schedule.phases if p.stage == stage]
        assert frames == [8, 12, 16]
    assert [p.name for p in schedule.phases[:2]] == ['S128-T8', 'S128-T12']


def test_vsr_crops_round_down_to_multiple_and_keep_stock_crop():
    schedule = build_schedule(dict(preset='vsr'), Shape(2, 8, 200), 100)
    assert sorted({p.shapes[0].crop_size for p in schedule.phases}) == [96, 144, 200]
    # Never below one multiple (16 GT px = 4 LR px at x4).
    tiny = build_schedule(dict(preset='vsr', crop_factors=(0.25, 1.0),
                               stage_fractions=(0.5, 0.5)), Shape(2, 8, 40), 100)
    assert tiny.phases[0].shapes[0].crop_size == 16
    custom = build_schedule(dict(preset='vsr', crop_multiple=8), Shape(2, 8, 100), 100)
    assert sorted({p.shapes[0].crop_size for p in custom.phases}) == [48, 72, 100]
    assert build_schedule(dict(preset='vsr'), Shape(2, 8, 200), 100, scale=2) \
        .phases[0].shapes[0].crop_size == 96  # multiple 8 at x2


def test_vsr_min_frames_clamps_short_clips():
    schedule = build_schedule(dict(preset='vsr'), Shape(2, 8, 64), 100, min_frames=5)
    assert [p.shapes[0].num_frames for p in schedule.phases[:3]] == [5, 6, 8]


def test_vsr_keep_volume_within_rounding_of_stock_volume():
    # B = round(exact) with exact >= B0, so |B / exact - 1| <= 0.5 / B0.
    schedule = build_schedule(dict(preset='vsr', max_batch_size=1000), BASE, STOCK)
    for phase in schedule.phases:
        ratio = phase.shapes[0].volume / BASE.volume
        assert abs(ratio - 1) <= 0.5 / BASE.batch_size
    flat = _build('vsr_flat')
    assert {p.shapes[0].batch_size for p in flat.phases} == {BASE.batch_size}


@pytest.mark.parametrize('cap, expected', [(None, 16), (10, 10), (4, 4)])
def test_vsr_batch_is_capped(cap, expected):
    schedule = build_schedule(dict(preset='vsr', max_batch_size=cap), BASE, STOCK)
    batches = [p.shapes[0].batch_size for p in schedule.phases]
    assert max(batches) == expected
    assert batches[-1] == BASE.batch_size  # the stock shape at the end


def test_vsr_iterations_budget_is_exact():
    schedule = _build('vsr_iters')
    assert schedule.total_iters == STOCK
    assert schedule.budget == 'iterations'
    stage_iters = [sum(p.num_iters for p in schedule.phases if p.stage == s) for s in range(3)]
    assert stage_iters == [750, 750, 1500]


# -- budgets and compute ------------------------------------------------------
@pytest.mark.parametrize('name', ['vsr', 'vsr_warmup', 'vsr_flat', 'slowfast',
                                  'slowfast_kinetics', 'slowfast_no_short',
                                  'slowfast_short_only', 'slowfast_capped', 'large_batch',
                                  'large_batch_sqrt', 'phases'])
def test_samples_budget_matches_stock_clips(name):
    schedule = _build(name)
    factor = {**PRESET_DEFAULTS[schedule.preset], **CONFIGS[name]}['epoch_factor']
    target = STOCK * BASE.batch_size * factor
    seen = schedule.samples_before(schedule.total_iters)
    largest = max(s.batch_size for p in schedule.phases for s in p.shapes)
    assert target - 1e-6 <= seen < target + largest
    assert schedule.budget == 'samples'


def test_compute_ratio():
    assert _build('vsr').compute_ratio > 1.5
    assert _build('slowfast').compute_ratio > 2
    assert _build('large_batch').compute_ratio == pytest.approx(1.0)
    assert _build('large_batch_sqrt').compute_ratio == pytest.approx(1.0)
    assert _build('vsr_iters').compute_ratio > 1  # same iterations, smaller volumes


def test_large_batch_iterations_and_default_warmup():
    schedule = _build('large_batch')
    (phase,) = schedule.phases
    assert schedule.total_iters == STOCK // 2
    assert phase.shapes == (Shape(8, 16, 256),)
    assert phase.warmup_iters == 75  # 5% of 1500
    assert build_schedule(dict(preset='large_batch', batch_multiplier=3), BASE, 10) \
        .total_iters == 4  # ceil(10 / 3)
    assert build_schedule(dict(preset='large_batch'), BASE, 10).phases[0].warmup_iters == 1


# -- learning rate ---------------------------------------------------------------
def test_lr_scale_modes():
    assert lr_scale(16, 4, 'linear') == 4.0
    assert lr_scale(16, 4, 'sqrt') == 2.0
    assert lr_scale(16, 4, 'none') == 1.0
    with pytest.raises(ValueError, match='lr_scaling'):
        lr_scale(16, 4, 'cubic')


@pytest.mark.parametrize('name, mode', [('vsr', 'linear'), ('vsr_iters', 'sqrt'),
                                        ('large_batch_sqrt', 'sqrt'), ('phases', 'linear')])
def test_phase_lr_factor_follows_batch(name, mode):
    for phase in _build(name).phases:
        ratio = phase.shapes[-1].batch_size / BASE.batch_size
        assert phase.lr_factor == pytest.approx(ratio if mode == 'linear' else math.sqrt(ratio))


def test_warmup_ramps_monotonically_to_phase_factor_where_lr_factor_rises():
    schedule = _build('vsr_warmup')
    previous = 1.0
    rises = 0
    for phase in schedule.phases:
        # Warm-up only where the LR factor rises; a shrinking batch keeps its
        # lower LR instead of dipping to warmup_start times it.
        assert phase.warmup_iters == (7 if phase.lr_factor > previous else 0)
        rises += phase.lr_factor > previous
        previous = phase.lr_factor
        if not phase.warmup_iters:
            assert schedule.lr_factor_at(phase.start_iter) == phase.lr_factor
            continue
        ramp = [schedule.lr_factor_at(phase.start_iter + k) for k in range(phase.warmup_iters + 2)]
        assert ramp[0] == pytest.approx(phase.lr_factor * (0.2 + 0.8 / 7))
        assert all(a < b for a, b in zip(ramp, ramp[1:phase.warmup_iters]))
        assert ramp[phase.warmup_iters - 1:] == [pytest.approx(phase.lr_factor)] * 3
    assert rises >= 1
    # No LR dip at a stage boundary where the batch shrinks (the old defect).
    for previous, phase in zip(schedule.phases, schedule.phases[1:]):
        if phase.lr_factor < previous.lr_factor:
            assert schedule.lr_factor_at(phase.start_iter) == phase.lr_factor


def test_warmup_is_clipped_to_phase_length():
    schedule = build_schedule(dict(preset='large_batch', warmup_iters=100), BASE, 20)
    assert schedule.phases[0].warmup_iters == schedule.total_iters == 10
    assert schedule.lr_factor_at(9) == pytest.approx(2.0)


# -- slowfast --------------------------------------------------------------------
def test_slowfast_worked_example_kinetics():
    schedule = slowfast_long_cycle_epochs(32, 224, [0, 94, 154, 196], 239)
    shapes = [(8, 8, 158), (4, 16, 158), (2, 16, 224), (1, 32, 224)]
    expected = [(0, shapes[0], 73), (0, shapes[1], 110), (0, shapes[2], 142),
                (0, shapes[3], 158), (1, shapes[0], 205), (1, shapes[1], 228),
                (1, shapes[2], 248), (1, shapes[3], 259), (2, shapes[0], 291),
                (2, shapes[1], 308), (2, shapes[2], 322), (2, shapes[3], 329),
                (3, shapes[3], 358)]
    assert schedule == expected


def test_slowfast_vsr_mode_matches_paper_schedule_and_saving():
    # crop_multiple=1 keeps SlowFast's crops, so the VSR conversion must give the
    # paper's shapes, phase ends (1 epoch = 1000 stock iterations) and ~3.4x saving.
    base = Shape(batch_size=8, num_frames=32, crop_size=224)
    schedule = build_schedule(dict(preset='slowfast', lr_steps=KINETICS_STEPS,
                                   crop_multiple=1), base, 239000, scale=1)
    paper = slowfast_long_cycle_epochs(32, 224, [0, 94, 154, 196], 239)
    assert len(schedule.phases) == len(paper)
    for phase, (stage, (multiplier, frames, crop), end_epoch) in zip(schedule.phases, paper):
        long_shape = phase.shapes[-1]
        assert phase.stage == stage
        assert (long_shape.batch_size, long_shape.num_frames, long_shape.crop_size) \
            == (8 * multiplier, frames, crop)
        assert phase.lr_factor == multiplier
        end = schedule.samples_before(phase.end_iter) / base.batch_size / 1000
        assert end == pytest.approx(end_epoch, abs=0.6)
    assert [s.crop_size for s in schedule.phases[0].shapes] == [112, 158, 158]
    assert [s.batch_size for s in schedule.phases[0].shapes] == [128, 64, 64]
    assert schedule.phases[-1].name.startswith('finetune')
    assert 239000 / schedule.total_iters == pytest.approx(3.42, abs=0.03)


def test_slowfast_defaults_and_cap():
    schedule = _build('slowfast')
    assert [p.stage for p in schedule.phases] == [0, 0, 0, 0, 1]
    assert [p.shapes[-1].num_frames for p in schedule.phases] == [4, 8, 8, 16, 16]
    for phase in schedule.phases:
        assert all(s.crop_size % 16 == 0 for s in phase.shapes)
    capped = _build('slowfast_capped')
    assert max(s.batch_size for p in capped.phases for s in p.shapes) == 24
    assert len(_build('slowfast_short_only').phases) == 1
    assert all(len(p.shapes) == 1 for p in _build('slowfast_no_short').phases)


# -- phases preset ------------------------------------------------------------
def test_explicit_phases():
    schedule = _build('phases')
    assert [p.shapes for p in schedule.phases] == [(Shape(8, 8, 128),), (Shape(4, 16, 256),)]
    assert [p.num_iters for p in schedule.phases] == [750, 1500]
    iters = _build('phases_iters')
    assert [p.num_iters for p in iters.phases] == [750, 2250]
    # Factor 4 then 1: the second phase's LR falls, so it does not warm up...
    assert [p.warmup_iters for p in iters.phases] == [5, 0]
    # ...unless warm-up is asked for wherever the factor changes.
    changed = build_schedule(dict(CONFIGS['phases_iters'], warmup_on='change'), BASE, STOCK)
    assert [p.warmup_iters for p in changed.phases] == [5, 5]


# -- rejections ---------------------------------------------------------------
REJECTIONS = [
    (dict(preset='nope'), {}, 'preset'),
    (dict(), {}, 'preset'),
    (dict(preset='vsr', foo=1), {}, 'foo'),
    (dict(preset='vsr', batch_multiplier=2), {}, 'batch_multiplier'),
    (dict(preset='vsr', crop_factors=(0.5, 1.5, 1.0)), {}, 'crop_factors'),
    (dict(preset='vsr', frame_factors=(1.0, 0.5)), {}, 'frame_factors'),
    (dict(preset='vsr', stage_fractions=(0.3, 0.3, 0.3)), {}, 'stage_fractions'),
    (dict(preset='vsr', stage_fractions=(0.5, 0.5)), {}, 'stage_fractions'),
    (dict(preset='vsr', stage_fractions=(0.0, 0.5, 0.5)), {}, 'stage_fractions'),
    (dict(preset='vsr', budget='iterations'), dict(stock_iters=4), 'stage_fractions'),
    (dict(preset='vsr', budget='epochs'), {}, 'budget'),
    (dict(preset='vsr', lr_scaling='cubic'), {}, 'lr_scaling'),
    (dict(preset='vsr', max_batch_size=2), {}, 'max_batch_size'),
    (dict(preset='vsr', keep_volume='yes'), {}, 'keep_volume'),
    (dict(preset='vsr', warmup_iters=-1), {}, 'warmup_iters'),
    (dict(preset='vsr', warmup_start=2), {}, 'warmup_start'),
    (dict(preset='vsr', epoch_factor=0), {}, 'epoch_factor'),
    (dict(preset='vsr', crop_multiple=0), {}, 'crop_multiple'),
    (dict(preset='vsr'), dict(stock_iters=0), 'stock_iters'),
    (dict(preset='vsr'), dict(base=Shape(0, 16, 256)), 'base'),
    (dict(preset='vsr'), dict(max_crop=200), 'max_crop'),
    (dict(preset='vsr'), dict(min_frames=20), 'min_frames'),
    (dict(preset='slowfast'), dict(min_frames=5), 'long_cycle_factors'),
    (dict(preset='slowfast', long_cycle_factors=((0.5, 2),)), {}, 'long_cycle_factors'),
    (dict(preset='slowfast', short_cycle_factors=()), {}, 'short_cycle_factors'),
    (dict(preset='slowfast', lr_steps=(0.0,)), {}, 'lr_steps'),
    (dict(preset='slowfast', lr_steps=(0.2, 0.8)), {}, 'lr_steps'),
    (dict(preset='slowfast', lr_steps=(0.0, 1.0)), {}, 'lr_steps'),
    (dict(preset='slowfast', short_cycle=1), {}, 'short_cycle'),
    (dict(preset='slowfast', budget='samples'), {}, 'budget'),
    (dict(preset='large_batch', batch_multiplier=0), {}, 'batch_multiplier'),
    (dict(preset='large_batch', crop_factors=(1.0,)), {}, 'crop_factors'),
    (dict(preset='phases'), {}, 'phases'),
    (dict(preset='phases', phases=[(1.0, 4, 32, 256)]), {}, 'phases'),
    (dict(preset='phases', phases=[(1.0, 4, 1, 256)]), {}, 'phases'),
    (dict(preset='phases', phases=[(1.0, 0, 16, 256)]), {}, 'phases'),
    (dict(preset='phases', phases=[(1.0, 4, 16, 100)]), {}, 'phases'),
    (dict(preset='phases', phases=[(0.5, 4, 16, 256), (0.4, 4, 8, 128)]), {}, 'phases'),
    (dict(preset='phases', phases=[(1.0, 4, 16, 128)]), dict(base=Shape(4, 16, 128),
                                                             max_crop=112), 'max_crop'),
    (dict(preset='phases', budget='iterations',
          phases=[(0.999, 4, 16, 256), (0.001, 4, 8, 128)]), dict(stock_iters=100), 'phases'),
]


@pytest.mark.parametrize('cfg, kwargs, key', REJECTIONS,
                         ids=[f'{i}-{r[2]}' for i, r in enumerate(REJECTIONS)])
def test_rejections_name_the_key(cfg, kwargs, key):
    kwargs = dict(kwargs)
    base = kwargs.pop('base', BASE)
    stock = kwargs.pop('stock_iters', STOCK)
    with pytest.raises(ValueError) as info:
        build_schedule(cfg, base, stock, **kwargs)
    assert key in str(info.value)


def test_unknown_key_lists_allowed_keys_of_the_preset():
    with pytest.raises(ValueError) as info:
        build_schedule(dict(preset='large_batch', foo=1), BASE, STOCK)
    assert 'batch_multiplier' in str(info.value) and 'crop_factors' not in str(info.value)


# -- reporting --------------------------------------------------------------------
@pytest.mark.parametrize('name', ['vsr', 'slowfast', 'large_batch', 'phases'])
def test_table_and_dict(name):
    schedule = _build(name)
    table = schedule.table()
    for phase in schedule.phases:
        assert phase.name in table
        assert f'[{phase.start_iter}, {phase.end_iter})' in table
    assert f'compute ratio {schedule.compute_ratio:.3f}x' in table
    summary = json.loads(json.dumps(schedule.to_dict()))
    assert summary['total_iters'] == schedule.total_iters
    assert len(summary['phases']) == len(schedule.phases)
    assert summary['base'] == dict(batch_size=4, num_frames=16, crop_size=256)


# -- defects of the first release (issue 6) ---------------------------------
@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_stock_curve_spans_the_whole_curriculum(name):
    # The LR follows the stock curve by the share of clips seen: it starts at
    # stock iteration 0 and reaches the stock run's end exactly at the end,
    # whatever epoch_factor (slowfast: 1.5) or budget the preset uses.
    schedule = _build(name)
    assert schedule.stock_progress_iter(0) == 0
    assert schedule.stock_progress_iter(schedule.total_iters) == pytest.approx(STOCK)
    middle = schedule.total_iters // 2
    assert 0 < schedule.stock_progress_iter(middle) < STOCK


def test_clip_lengths_below_the_model_minimum_are_raised_merged_and_noted():
    # IconVSR needs 5 frames; T0=6 gives 3 and 4 (factors 0.5, 0.75): both
    # become 5, the two equal phases of each stage are merged, and it says so.
    schedule = build_schedule(dict(preset='vsr'), Shape(4, 6, 128), 150, min_frames=5)
    assert [p.name for p in schedule.phases] == [
        'S64-T5', 'S64-T6', 'S96-T5', 'S96-T6', 'S128-T5', 'S128-T6']
    assert len({p.name for p in schedule.phases}) == len(schedule.phases)
    assert any('raised to min_frames=5' in n for n in schedule.notes)
    assert any('merged into one phase' in n for n in schedule.notes)
    assert 'note: ' in schedule.table()
    # The merged phase carries both shares: stage 0 still gets 25% of the clips.
    stage0 = sum(p.samples for p in schedule.phases if p.stage == 0)
    assert stage0 == pytest.approx(0.25 * 600, abs=16)
    # Nothing to say when nothing was changed.
    assert build_schedule(dict(preset='vsr'), Shape(4, 8, 128), 150).notes == ()


@pytest.mark.parametrize('cfg, base, message', [
    (dict(preset='vsr'), Shape(4, 8, 126), 'gt_patch_size'),
    (dict(preset='vsr', crop_multiple=18), Shape(4, 8, 128), "'crop_multiple': 18"),
    (dict(preset='vsr', warmup_on='always'), Shape(4, 8, 128), "'warmup_on': expected one of"),
])
def test_crops_must_be_whole_at_lr_and_warmup_on_is_checked(cfg, base, message):
    with pytest.raises(ValueError, match=message):
        build_schedule(cfg, base, 150, scale=4)


def test_flow_multiple_notes_every_crop_the_flow_network_pads():
    base = Shape(batch_size=4, num_frames=8, crop_size=128)
    schedule = build_schedule(dict(preset='vsr'), base, 150, scale=4, flow_multiple=32)
    padded = [n for n in schedule.notes if 'flow network' in n]
    assert len(padded) == 2
    assert 'S64 (LR 16 px) is resized to LR 32 px' in padded[0]
    assert 'S96 (LR 24 px)' in padded[1]
    assert padded[0] in schedule.table()
    # Without the key nothing is noted; the shapes are the same either way.
    plain = build_schedule(dict(preset='vsr'), base, 150, scale=4)
    assert not plain.notes and plain.phases == schedule.phases


def test_flow_multiple_padding_free_curriculum_has_no_note():
    base = Shape(batch_size=2, num_frames=8, crop_size=256)
    cfg = dict(preset='vsr', crop_factors=(0.5, 1.0), stage_fractions=(0.5, 0.5))
    schedule = build_schedule(cfg, base, 100, scale=4, flow_multiple=32)
    assert {s.crop_size for p in schedule.phases for s in p.shapes} == {128, 256}
    assert schedule.notes == ()
    # A stock crop that itself pays is named as the stock crop.
    odd = build_schedule(dict(preset='large_batch'), Shape(4, 8, 96), 10, flow_multiple=32)
    assert odd.notes and odd.notes[0].startswith('the stock crop S96')
    with pytest.raises(ValueError, match='flow_multiple'):
        build_schedule(dict(preset='vsr'), base, 100, flow_multiple=0)
