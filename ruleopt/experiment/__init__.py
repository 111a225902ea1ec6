"""Experiments: a YAML grid of rulesets x workloads x strategies x engines x builds x
repeats x measurements, run as independent cells into a results directory (``spec``,
``grid``, ``cell``, ``inputs``, ``measures``, ``execute``, ``runner``, ``dask``,
``parquet``)."""
