"""Engines: how the per-part work of a dataset is run (local: in this process, one part
after another; dask: one task per part on a distributed cluster)."""
