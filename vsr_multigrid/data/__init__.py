"""Dataset preparation: real video files to REDS-layout training data."""
