"""The routing keys shared by the adapters (MMagic and BasicSR): their
defaults and checks, and the dense config a routed one was made from."""
from .blocks import ROUTING_MODES
from .gates import BUDGET_DIMS

__all__ = ['ROUTING_DEFAULTS', 'check_routing', 'dense_generator_cfg']


def dense_generator_cfg(routed_cfg: dict) -> dict:
    """The config of the generator (MMagic) or ``network_g`` (BasicSR) a
    routed one was made from: the same keys, ``Routed`` dropped from the
    type, no ``routing``."""
    routed_type = routed_cfg.get('type', '')
    if not str(routed_type).startswith('Routed'):
        raise ValueError(f"expected a routed generator config (type Routed...), got type "
                         f"{routed_type!r}")
    dense = dict(routed_cfg, type=routed_type[len('Routed'):])
    dense.pop('routing', None)
    return dense


#: ``patch``: LR pixels per side of a decision; ``units``: decisions per
#: patch and branch (consecutive blocks share one; None: one per block);
#: ``target``: executed fraction the compute loss pulls to; ``temperature`` ->
#: ``min_temperature`` over ``anneal_iters`` training forwards (linear);
#: ``open_bias``: the estimators' initial logit (their output conv starts at
#: zero, so every patch starts at this confidence): 3.0 runs about 95% of
#: the blocks, i.e. starts from the dense model's behaviour; 0.0 starts at
#: a confidence of 0.5 (with the backbone held in phase 1 nothing is lost,
#: and the estimators spend no steps pulling every confidence down to the
#: target before they can sort them);
#: ``min_noise``: over the same forwards the training gates' logistic noise
#: goes from scale 1 to this (linear; 1: kept). Towards 0 the training
#: decisions become the test-time ones at threshold 0.5, so the compute loss
#: cannot be met by undecided confidences that open at random
#: (:func:`~vsr_multigrid.routing.gates.gumbel_sigmoid_gates`);
#: ``budget``: where the compute loss holds ``target``: ``'clip'`` (the
#: whole forward's share), ``'frame'`` (each frame of each branch) or
#: ``'unit'`` (each unit there); with ``'clip'`` the estimators can meet it
#: by closing one branch (:data:`~vsr_multigrid.routing.gates.BUDGET_DIMS`);
#: ``threshold``: test-time confidence needed to run a block (the speed /
#: quality knob); ``test_share``: None, or a fraction that replaces the
#: threshold at test time: in each routed frame and branch the most confident
#: ``test_share`` of the (unit, patch) pairs run, so the cost is fixed even
#: where the confidences spread differently than on the training crops
#: (:func:`~vsr_multigrid.routing.gates.share_gates`);
#: ``refresh_interval``: every k-th frame (0: never) runs all blocks
#: everywhere, so skip errors cannot build up in the hidden state;
#: ``hidden``: estimator width; ``inference``: ``'sparse'`` (gathered
#: patches: real speed) or ``'masked'`` (whole frames, for checking);
#: ``temporal_cue``: the estimator also reads how much the LR frame differs
#: from the previous one warped to it (:func:`~vsr_multigrid.routing.gates.temporal_cue`),
#: and each branch's first frame, which has no previous one, runs all blocks;
#: ``dense_interval``: every k-th training forward (0: never) runs all blocks
#: and trains only the backbone (the estimators' gradient is zero), so a
#: backbone fine-tuned under skipping (phase 2) stays a working dense model
#: and every test-time threshold stays usable. Without it, blocks that the
#: estimators close learn nothing about the hidden states they would meet,
#: and running them there can diverge through the recurrence;
#: ``reuse``: a patch where every unit is closed takes the previous frame's
#: hidden state warped to this one (its aligned, already refined features)
#: instead of the input conv's output: skipping a static or well-tracked
#: patch then repeats what the recurrence already knew there (not on a
#: branch's first frame, nor on IconVSR's keyframes, which refill);
#: ``static_tolerance``: None (off) or a number >= 0: a patch whose LR
#: pixels (and one pixel around) changed by at most this since the branch's
#: previous frame runs no block and keeps that frame's hidden state, not
#: warped (:func:`~vsr_multigrid.routing.gates.static_patches`). An unchanged
#: input means no motion; a flow network trained from scratch does not know
#: that (0.54 px mean flow on a perfectly still background here), and
#: warping by it every frame blurs what the recurrence refined. Not on a
#: branch's first frame, IconVSR's keyframes, or frames that run all blocks;
#: ``static_output``: with ``static_tolerance``, at sparse inference a frame
#: is reconstructed only in a box around the patches that are not static in
#: both branches; elsewhere its upsampling residual is the previous frame's,
#: which the same hidden states produced (exact at tolerance 0; above it the
#: bilinear skip path is still this frame's), see :mod:`vsr_multigrid.routing.outputs`.
ROUTING_DEFAULTS = dict(patch=16, units=None, target=0.5, temperature=1.0,
                        min_temperature=0.1, min_noise=1.0, open_bias=3.0, anneal_iters=1000,
                        budget='clip', threshold=0.5, test_share=None, refresh_interval=0,
                        dense_interval=0, hidden=16, inference='sparse', temporal_cue=True,
                        reuse=False, static_tolerance=None, static_output=True)


def check_routing(cfg, num_blocks: int) -> dict:
    """``cfg`` (a generator's ``routing`` dict, or None) completed with
    :data:`ROUTING_DEFAULTS`; an unknown key or a value out of range raises
    ``ValueError`` naming the key (``units`` None becomes ``num_blocks``)."""
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - set(ROUTING_DEFAULTS))
    if unknown:
        raise ValueError(f"model.generator.routing key(s) {unknown} unknown; allowed: "
                         f"{', '.join(ROUTING_DEFAULTS)}")
    cfg = {**ROUTING_DEFAULTS, **cfg}
    if cfg['units'] is None:
        cfg['units'] = num_blocks
    for key, low in (('patch', 1), ('units', 1), ('hidden', 1), ('anneal_iters', 0),
                     ('refresh_interval', 0), ('dense_interval', 0)):
        value = cfg[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"model.generator.routing.{key}: expected an int >= {low}, "
                             f'got {value!r}')
    if cfg['units'] > num_blocks:
        raise ValueError(f"model.generator.routing.units: at most num_blocks ({num_blocks}) "
                         f"decisions per patch, got {cfg['units']}")
    for key in ('target', 'threshold'):
        if not isinstance(cfg[key], (int, float)) or not 0 <= cfg[key] <= 1:
            raise ValueError(f'model.generator.routing.{key}: expected a number in [0, 1], '
                             f'got {cfg[key]!r}')
    share = cfg['test_share']
    if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))
                              or not 0 <= share <= 1):
        raise ValueError(f'model.generator.routing.test_share: expected None (the threshold '
                         f'decides) or a fraction in [0, 1], got {share!r}')
    if not 0 < cfg['min_temperature'] <= cfg['temperature']:
        raise ValueError('model.generator.routing: expected 0 < min_temperature <= '
                         f"temperature, got {cfg['min_temperature']!r} and "
                         f"{cfg['temperature']!r}")
    for key, low, high, meaning in (('open_bias', -10, 10, 'the initial logit'),
                                    ('min_noise', 0, 1, "the training gates' final noise scale")):
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not low <= value <= high:
            raise ValueError(f'model.generator.routing.{key}: expected {meaning}, a number in '
                             f'[{low}, {high}], got {value!r}')
    for key in ('temporal_cue', 'reuse', 'static_output'):
        if not isinstance(cfg[key], bool):
            raise ValueError(f'model.generator.routing.{key}: expected True or False, got '
                             f'{cfg[key]!r}')
    tolerance = cfg['static_tolerance']
    if tolerance is not None and (isinstance(tolerance, bool) or
                                  not isinstance(tolerance, (int, float)) or tolerance < 0):
        raise ValueError(f'model.generator.routing.static_tolerance: expected None (off) or a '
                         f'number >= 0 (LR pixel change, 0-1 scale), got {tolerance!r}')
    if cfg['budget'] not in BUDGET_DIMS:
        raise ValueError(f"model.generator.routing.budget: expected one of "
                         f"{tuple(BUDGET_DIMS)}, got {cfg['budget']!r}")
    if cfg['inference'] not in ROUTING_MODES:
        raise ValueError(f"model.generator.routing.inference: expected one of "
                         f"{ROUTING_MODES}, got {cfg['inference']!r}")
    return cfg
