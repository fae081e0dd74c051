"""Skip routing for the BasicVSR family (SkipVSR, Ai et al., ACM MM 2024).

Plain torch, no MMagic or BasicSR import:

- :mod:`.patches`: a frame's grid of patches, gathering the active ones with
  a halo into a dense sub-batch and scattering results back (APE's way of
  turning skipped patches into real speed; no loop over patches).
- :mod:`.gates`: the per-patch confidence estimator, Gumbel-sigmoid gates
  with a straight-through estimator for training, hard decisions at test
  time, and the compute loss.
- :mod:`.blocks`: residual blocks under per-patch gates (masked for
  training, gathered for speed).
- :mod:`.outputs`: reconstructing a frame only around the patches whose
  hidden states changed since the previous frame.
- :mod:`.config`: the routing keys (defaults and checks) and the dense
  config a routed one was made from.
"""
