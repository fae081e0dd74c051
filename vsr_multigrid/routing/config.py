"""Config names shared by the routing adapters (MMagic and BasicSR)."""

__all__ = ['dense_generator_cfg']


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
