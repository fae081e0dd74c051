"""Structured Sparsity Learning (Xia et al., CVPR 2023) for the BasicVSR family.

Plain torch, no MMagic or BasicSR import:

- :mod:`.scales`: per-channel learnable scales of the prunable groups and
  SSL's growing regulariser, kept as parameters and buffers so checkpoints
  carry them and DDP sees one loss.
- :mod:`.basicvsr`: BasicVSR's channel groups, the stage-1 forward with the
  scales in place, multiply-add counts, and slicing a stage-1 model into a
  physically smaller one (two stream layouts: aligned and SSL's residual
  sparsity connection).
- :mod:`.spec`: the channel spec (JSON) a pruned model is built from.

The frameworks' adapters map their layer names to the roles used here.
"""
