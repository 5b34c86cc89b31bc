"""Tracking: ``base`` (the Tracker interface), ``goturn`` (frame -> crop around
the previous box -> network -> box), ``finetune`` (online fine-tuning),
``opencv`` (OpenCV's GOTURN model and loop), ``builder`` (the one factory),
``sequences`` (inputs), ``output`` (boxes files and annotated video)."""
