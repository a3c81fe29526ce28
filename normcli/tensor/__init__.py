"""Activation-tensor operations in pure NumPy: layouts (shared), LRN and the batch, layer,
instance, group and RMS normalizations. No Click, rich, pandas or pyarrow, and no file I/O."""
