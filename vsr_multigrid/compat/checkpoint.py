"""Let mmengine 0.10.7 load its own checkpoints on torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7
calls ``torch.load`` without the argument, and its checkpoints hold a few
non-tensor objects (the message hub's ``HistoryBuffer`` and the numpy arrays
and scalars inside it), so ``--resume`` and ``load_from`` fail with
"Unsupported global". Rather than trusting every pickle
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``) we extend torch's allow-list with
exactly the classes mmengine writes.
"""
import numpy as np
import torch


def mmengine_checkpoint_globals() -> list:
    """Return the classes and functions mmengine checkpoints need to unpickle."""
    from mmengine.logging.history_buffer import HistoryBuffer

    allowed = [
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
