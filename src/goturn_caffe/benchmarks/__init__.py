"""Speed benchmarks, one module per stage (``tools/benchmark.py`` runs them).

Each stage module has ``configure(parser)`` (its options) and ``run(args) -> dict``
(prints one line per case and returns the results for ``--json``);
:mod:`~goturn_caffe.benchmarks.common` holds what they share.
"""
