"""Batch sampler that gives every batch the curriculum's shape."""
from typing import Iterator, List, Tuple

from mmagic.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class MultigridBatchSampler:
    """Yield batches of ``(index, num_frames, crop_size)`` for a curriculum.

    Put it under ``train_dataloader.batch_sampler``; mmengine passes the
    stock ``sampler`` (e.g. ``InfiniteSampler``, already sharded per rank) and
    the stock per-GPU ``batch_size``, which is the curriculum's base batch.
    The schedule itself is attached by :class:`MultigridTrainLoop`, which
    knows the stock iteration budget.

    Batch ``k`` gets ``schedule.shape_at(k)``: the shape is a function of the
    sampler's own batch counter, so prefetching and worker processes need no
    shared state, and every rank (same schedule, same counter) uses the same
    shape at the same step. After the last scheduled iteration the final
    shape is kept.

    Args:
        sampler: The per-rank index sampler.
        batch_size (int): The stock per-GPU batch size.
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool = True):
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(
                f'train_dataloader.batch_size must be a positive int, got {batch_size!r}')
        if not drop_last:
            raise ValueError('MultigridBatchSampler always yields full batches; '
                             'drop_last=False is not supported')
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.schedule = None
        self._start_iter = 0

    def set_schedule(self, schedule) -> None:
        """Attach the curriculum (its base batch must be ``batch_size``)."""
        if schedule.base.batch_size != self.batch_size:
            raise ValueError(
                f'the schedule was built for base batch {schedule.base.batch_size} '
                f'but train_dataloader.batch_size is {self.batch_size}')
        self.schedule = schedule

    def set_start_iter(self, iteration: int) -> None:
        """Start the next ``__iter__`` at ``iteration`` (resume).

        The index stream is advanced by the number of samples the skipped
        batches held, without loading them, so a resumed run draws exactly
        the indices an uninterrupted one would.
        """
        if iteration < 0:
            raise ValueError(f'start iteration must be >= 0, got {iteration}')
        self._start_iter = iteration

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

    def shape_at(self, iteration: int):
        """Shape of batch ``iteration`` (the last shape past the end)."""
        last = self.schedule.total_iters - 1
        return self.schedule.shape_at(min(iteration, last))

    def _samples_before(self, iteration: int) -> int:
        total = self.schedule.total_iters
        extra = max(0, iteration - total) * self.shape_at(total).batch_size
        return self.schedule.samples_before(min(iteration, total)) + extra

    def _indices(self) -> Iterator[int]:
        # Finite samplers (DefaultSampler) are restarted, so the stream is
        # endless like InfiniteSampler's; each pass is a new epoch, so a
        # shuffling sampler draws a new order (mmengine's epoch loop calls
        # set_epoch the same way). The passes depend only on the seed, so a
        # resumed run replays them exactly.
        epoch = 0
        while True:
            if hasattr(self.sampler, 'set_epoch'):
                self.sampler.set_epoch(epoch)
            empty = True
            for index in self.sampler:
                empty = False
                yield index
            if empty:
                raise ValueError('the train sampler yielded no index: is the '
                                 'training dataset empty?')
            epoch += 1

    def __iter__(self) -> Iterator[List[Tuple[int, int, int]]]:
        if self.schedule is None:
            raise RuntimeError(
                "MultigridBatchSampler has no schedule: use train_cfg=dict("
                "type='MultigridTrainLoop', curriculum=...) with it")
        indices = self._indices()
        iteration = self._start_iter
        for _ in range(self._samples_before(iteration)):
            next(indices)
        while True:
            shape = self.shape_at(iteration)
            yield [(next(indices), shape.num_frames, shape.crop_size)
                   for _ in range(shape.batch_size)]
            iteration += 1

    def __len__(self) -> int:
        if self.schedule is None:
            return len(self.sampler) // self.batch_size
        return self.schedule.total_iters
