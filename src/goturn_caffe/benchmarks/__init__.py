"""Speed benchmarks, one module per stage (``tools/benchmark.py`` runs them).

Each stage module has ``configure(parser)`` (its options), ``run(args) -> dict``
(prints one line per case and returns the results for ``--json``) and, when it
reads files, ``inputs(args) -> list`` (what ``--json`` may not overwrite);
:mod:`~goturn_caffe.benchmarks.common` holds what they share.
"""
