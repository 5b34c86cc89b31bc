"""One-pass evaluation (OPE): OTB, UAV123, LaSOT, GOT-10k, TrackingNet, NfS, TColor128.

``metrics`` (each scorer of record's rule, pure numpy), ``sources`` (which
dataset a folder holds and how it is read), ``runner`` (initialise on frame 1,
never reset; resumable, worker processes, identity records), ``results`` (the
field's results layouts and the server zips), ``scoring``, ``report`` (summary,
plots) and ``evaluate`` (the one call ``tools/eval_ope.py`` makes).  Rules and
sources: ``docs/ope.md``.
"""
