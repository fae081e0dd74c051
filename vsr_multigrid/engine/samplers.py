"""MMagic's registered name for the curriculum batch sampler."""
from mmagic.registry import DATA_SAMPLERS

from vsr_multigrid.multigrid.sampling import CurriculumBatchSampler


@DATA_SAMPLERS.register_module()
class MultigridBatchSampler(CurriculumBatchSampler):
    """:class:`CurriculumBatchSampler` under ``train_dataloader.batch_sampler``.

    mmengine passes the stock ``sampler`` (e.g. ``InfiniteSampler``, already
    sharded per rank) and the stock per-GPU ``batch_size``, which is the
    curriculum's base batch. The schedule itself is attached by
    :class:`~vsr_multigrid.engine.loops.MultigridTrainLoop`, which knows the
    stock iteration budget.
    """

    @property
    def seed(self):
        """Seed of the index sampler (None if it has none)."""
        return getattr(self.sampler, 'seed', None)

    def set_seed(self, seed) -> None:
        """Draw indices from ``seed`` (a resumed run: the checkpoint's seed).

        Raises:
            ValueError: the index sampler has no seed to set, so a resumed
                run cannot be made to draw the same indices.
        """
        if seed is None or seed == self.seed:
            return
        if not hasattr(self.sampler, 'seed'):
            raise ValueError(
                f'{type(self.sampler).__name__} has no seed, so a resumed run cannot '
                'draw the indices of the interrupted one; set randomness=dict(seed=...) '
                "or use train_dataloader.sampler=dict(type='InfiniteSampler')")
        self.sampler.seed = seed
        if hasattr(self.sampler, '_indices_of_rank'):
            # InfiniteSampler draws from a generator made at construction.
            self.sampler.indices = self.sampler._indices_of_rank()
