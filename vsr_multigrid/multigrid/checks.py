"""Validation of curriculum config values and the small rules shared by presets.

Every error names the config key and says what was expected.
"""
import math
from typing import Optional, Sequence, Tuple

from .shapes import Shape

# Float noise (e.g. 0.1 * 30 = 3.0000000000000004) must not add an iteration.
EPS = 1e-9
FRACTION_TOL = 1e-6
LR_SCALINGS = ('linear', 'sqrt', 'none')
BUDGETS = ('samples', 'iterations')
#: When a phase warms its LR up: only where the LR factor rises above the
#: previous phase's (the default), or wherever it changes.
WARMUP_ON = ('increase', 'change')


def lr_scale(batch_size: int, base_batch: int, mode: str) -> float:
    """LR factor for ``batch_size`` relative to the stock ``base_batch``.

    Args:
        batch_size (int): Batch size of the phase.
        base_batch (int): Stock batch size.
        mode (str): ``'linear'`` (``B/B0``), ``'sqrt'`` (``sqrt(B/B0)``) or
            ``'none'`` (1).
    """
    if mode not in LR_SCALINGS:
        raise ValueError(f"cfg key 'lr_scaling': expected one of {LR_SCALINGS}, got {mode!r}")
    if batch_size <= 0 or base_batch <= 0:
        raise ValueError(f'lr_scale: batch sizes must be positive, got {batch_size} and '
                         f'{base_batch}')
    ratio = batch_size / base_batch
    return {'linear': ratio, 'sqrt': math.sqrt(ratio), 'none': 1.0}[mode]


def ceil_iters(value: float) -> int:
    return math.ceil(value - EPS)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def check_int(key: str, value, minimum: int) -> int:
    if not is_int(value) or value < minimum:
        raise ValueError(f"cfg key '{key}': expected an int >= {minimum}, got {value!r}")
    return value


def check_choice(key: str, value, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"cfg key '{key}': expected one of {tuple(choices)}, got {value!r}")
    return value


def check_positive(key: str, value) -> float:
    if not is_number(value) or value <= 0:
        raise ValueError(f"cfg key '{key}': expected a positive number, got {value!r}")
    return float(value)


def check_warmup_start(value) -> float:
    if not is_number(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"cfg key 'warmup_start': expected a number in [0, 1], got {value!r}")
    return float(value)


def check_factors(key: str, values, increasing: bool = True) -> Tuple[float, ...]:
    """Non-empty factors in (0, 1], optionally non-decreasing (coarse to fine)."""
    if not isinstance(values, (list, tuple)) or not values \
            or not all(is_number(v) and 0 < v <= 1 for v in values):
        raise ValueError(f"cfg key '{key}': expected a non-empty list of numbers in (0, 1], "
                         f'got {values!r}')
    if increasing and any(b < a for a, b in zip(values, values[1:])):
        raise ValueError(f"cfg key '{key}': expected non-decreasing factors (coarse to fine), "
                         f'got {values!r}')
    return tuple(float(v) for v in values)


def check_fractions(key: str, values, length: Optional[int] = None) -> Tuple[float, ...]:
    if not isinstance(values, (list, tuple)) or not values \
            or not all(is_number(v) and v > 0 for v in values):
        raise ValueError(f"cfg key '{key}': expected a non-empty list of positive fractions, "
                         f'got {values!r}')
    if length is not None and len(values) != length:
        raise ValueError(f"cfg key '{key}': expected {length} fractions (one per stage), "
                         f'got {len(values)}: {values!r}')
    if abs(sum(values) - 1.0) > FRACTION_TOL:
        raise ValueError(f"cfg key '{key}': fractions must sum to 1 (tolerance "
                         f'{FRACTION_TOL}), got sum {sum(values)!r} for {values!r}')
    return tuple(float(v) for v in values)


def round_crop(crop: float, base_crop: int, multiple: int) -> int:
    """Round a crop down to ``multiple`` (at least one); the stock crop stays as is.

    The stock crop is always legal (the stock run trains with it), so a
    factor that reaches it keeps it exactly even if it is not a multiple.
    """
    if crop >= base_crop:
        return base_crop
    return min(base_crop, max(multiple, int(crop + EPS) // multiple * multiple))


def check_shape(key: str, shape: Shape, base: Shape, min_frames: int,
                 max_crop: Optional[int]) -> Shape:
    """Reject shapes the model or the data cannot train with."""
    if shape.batch_size <= 0 or shape.num_frames <= 0 or shape.crop_size <= 0:
        raise ValueError(f"cfg key '{key}': sizes must be positive, got {shape}")
    if shape.num_frames < min_frames:
        raise ValueError(f"cfg key '{key}': clip length T={shape.num_frames} is below "
                         f"min_frames={min_frames} (the model's shortest clip)")
    if shape.num_frames > base.num_frames:
        raise ValueError(f"cfg key '{key}': clip length T={shape.num_frames} exceeds the "
                         f'stock clip length {base.num_frames}')
    if max_crop is not None and shape.crop_size > max_crop:
        raise ValueError(f"cfg key '{key}': crop S={shape.crop_size} exceeds "
                         f'max_crop={max_crop} (smallest training frame side, GT px)')
    return shape
