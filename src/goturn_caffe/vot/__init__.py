"""The VOT2014 evaluation protocol, independent of Caffe.

- :mod:`~goturn_caffe.vot.overlap`: region overlap as the VOT toolkit rasterises it;
- :mod:`~goturn_caffe.vot.protocol`: the supervised (reset-based) run and its measures;
- :mod:`~goturn_caffe.vot.results`: the toolkit's results files;
- :mod:`~goturn_caffe.vot.experiment`: ``baseline`` / ``region_noise`` over a dataset, restartable;
- :mod:`~goturn_caffe.vot.identity`: what produced a results folder (a rerun never mixes two runs);
- :mod:`~goturn_caffe.vot.runner`: the planned work, its progress and ETA, worker processes;
- :mod:`~goturn_caffe.vot.analysis`: per-sequence, per-tag scores and A-R ranks;
- :mod:`~goturn_caffe.vot.report`: JSON / Markdown summary and A-R plot;
- :mod:`~goturn_caffe.vot.table2`: the paper's Table 2;
- :mod:`~goturn_caffe.vot.trax_server`: the TraX entry point for the official toolkit.
"""
