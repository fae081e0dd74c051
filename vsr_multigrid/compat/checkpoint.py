"""Let mmengine 0.10.7 load its own checkpoints on torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7
calls ``torch.load`` without the argument, and its checkpoints hold a few
non-tensor objects (the message hub's ``HistoryBuffer`` and the numpy arrays
and scalars inside it), so ``--resume`` and ``load_from`` fail with
"Unsupported global". Rather than trusting every pickle
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``) we extend torch's allow-list with
exactly the classes mmengine writes.

``HistoryBuffer.__getstate__`` also pickles its statistics methods, as
``getattr(HistoryBuffer, 'mean')``. Allowing the real ``getattr`` would let a
crafted file reach any attribute (and from there ``os.system``), so the
allow-list maps that name to :func:`_history_buffer_getattr`, which resolves
only HistoryBuffer's own statistics methods.
"""
import pickle

import numpy as np
import torch


def _history_buffer_getattr(obj, name):
    """``getattr`` restricted to HistoryBuffer's statistics methods."""
    from mmengine.logging.history_buffer import HistoryBuffer
    # mean/max/min/current are the built-in statistics; others are added with
    # HistoryBuffer.register_statistics.
    allowed = {'mean', 'max', 'min', 'current', *HistoryBuffer._statistics_methods}
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer '
        'statistics methods are allowed')


def mmengine_checkpoint_globals() -> list:
    """Return the classes and functions mmengine checkpoints need to unpickle."""
    from mmengine.logging.history_buffer import HistoryBuffer

    allowed = [
        (_history_buffer_getattr, 'builtins.getattr'),
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        np.core.multiarray._reconstruct,
        np.core.multiarray.scalar,
    ]
    # numpy >= 1.25 pickles dtypes as instances of per-type classes
    # (numpy.dtypes.Float64DType, ...); allow every numeric/bool one.
    for type_code in '?bBhHiIlLqQefdgFDG':
        allowed.append(type(np.dtype(type_code)))
    return allowed


def allow_mmengine_checkpoints() -> None:
    """Add mmengine's checkpoint classes to torch's ``weights_only`` allow-list.

    Safe to call more than once; a no-op on torch versions without
    ``torch.serialization.add_safe_globals`` (they do not default to
    ``weights_only=True`` either).
    """
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:
        add_safe_globals(mmengine_checkpoint_globals())


def generator_weights(checkpoint) -> dict:
    """The ``generator.*`` weights of an MMagic checkpoint, without the prefix.

    Args:
        checkpoint: A file path, or a checkpoint already loaded (with or
            without its ``state_dict`` level).

    Raises:
        ValueError: Naming the file, when it holds no ``generator.*`` weights.
    """
    source = f'{checkpoint}: ' if isinstance(checkpoint, str) else ''
    if isinstance(checkpoint, str):
        allow_mmengine_checkpoints()
        checkpoint = torch.load(checkpoint, map_location='cpu', weights_only=True)
    state = checkpoint.get('state_dict', checkpoint)
    weights = {k[len('generator.'):]: v for k, v in state.items() if k.startswith('generator.')}
    if not weights:
        raise ValueError(f'{source}no generator.* weights (not an MMagic BasicVSR/IconVSR '
                         f'checkpoint; keys start {sorted(state)[:3]})')
    return weights
