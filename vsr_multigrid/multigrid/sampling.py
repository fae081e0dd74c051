"""Batch sampler that gives every batch the curriculum's shape (framework-free).

Both adapters use it: MMagic registers it as ``MultigridBatchSampler``
(:mod:`vsr_multigrid.engine.samplers`), the BasicSR entry point wraps
BasicSR's ``EnlargedSampler`` with it (:mod:`vsr_multigrid.basicsr_ext`).
"""
from typing import Iterator, List, Tuple


class CurriculumBatchSampler:
    """Yield batches of ``(index, num_frames, crop_size)`` for a curriculum.

    Batch ``k`` gets ``schedule.shape_at(k)``: the shape is a function of the
    sampler's own batch counter, so prefetching and worker processes need no
    shared state, and every rank (same schedule, same counter) uses the same
    shape at the same step. After the last scheduled iteration the final
    shape is kept.

    Indices come from ``sampler`` (already sharded per rank), restarted pass
    after pass with ``set_epoch(pass)`` where it has one, so the stream is
    endless and depends only on the sampler's seed: a resumed run
    (:meth:`set_start_iter`) draws exactly the indices an uninterrupted one
    would.

    Args:
        sampler: The per-rank index sampler.
        batch_size (int): The stock per-GPU batch size (the curriculum's base).
        drop_last (bool): Must be True: batches are always full.
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool = True):
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(
                f'batch_size must be a positive int, got {batch_size!r}')
        if not drop_last:
            raise ValueError(f'{type(self).__name__} always yields full batches; '
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
                f'but the stock batch size is {self.batch_size}')
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

    def set_epoch(self, epoch: int) -> None:
        """Ignored: the passes over the index sampler are counted here (a
        pass is one of its epochs); loops that call this per epoch are fine."""

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
            raise RuntimeError(f'{type(self).__name__} has no schedule: attach one with '
                               'set_schedule() before iterating (the MMagic loop '
                               'MultigridTrainLoop and the BasicSR entry point do)')
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
