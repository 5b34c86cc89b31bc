"""Online fine-tuning (the paper's Appendix B), an option of the tracker; off by default.

After each frame the tracker's own output is treated as ground truth: the pair
(previous frame, previous estimate) -> (current frame, current estimate) gives
1 true + k3 shifted examples through the same example generator as offline
training, and one SGD step on the fully connected layers is taken with the
paper's online learning rate, 1e-9 (the effective rate of the fc weights, like
the paper's offline 1e-5; base_lr = rate / 10 since fc weights have lr_mult 10).
The convolutions stay frozen (lr_mult 0), as offline.

The solver's training net is fed by Input layers and shares its weights with
the tracker's deploy net, so each step changes the very weights that track.
"""

from __future__ import annotations

import tempfile

import numpy as np

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.geometry.examples import ExampleGenerator
from goturn_caffe.geometry.preprocess import preprocess_batch
from goturn_caffe.model.netspec import NetOptions, build_net
from goturn_caffe.model.solver import make_solver
from goturn_caffe.track.base import Tracker

ONLINE_LEARNING_RATE = 1e-9
FC_LR_MULT = 10


class OnlineFinetuningTracker(Tracker):
    """Wraps a :class:`~goturn_caffe.track.goturn.GoturnTracker`: ``init`` / ``update`` as
    usual, plus one fc-layer SGD step per frame on the tracker's own output."""

    def __init__(self, tracker: Tracker, learning_rate: float = ONLINE_LEARNING_RATE,
                 augmented_per_pair: int = 10, seed: int = 0):
        self.tracker = tracker
        self.generator = ExampleGenerator(num_shifted=augmented_per_pair)
        self.rng = np.random.default_rng(seed)
        batch = 1 + augmented_per_pair
        self._folder = tempfile.TemporaryDirectory(prefix="goturn-finetune-")
        self.solver = make_solver(build_net(NetOptions(batch_size=batch), train=True, python_data=False),
                                  self._folder.name, "finetune", base_lr=learning_rate / FC_LR_MULT,
                                  lr_policy="fixed", max_iter=10 ** 9, snapshot=0, display=0)
        # The solver's net shares the deploy net's weight memory: one set of
        # weights, which the solver's updates change in place.
        self.solver.net.share_with(tracker.net)
        self.previous = None

    @property
    def net(self):
        return self.tracker.net

    @property
    def last_timing(self) -> dict:
        return self.tracker.last_timing

    def init(self, frame: np.ndarray, box: Box) -> None:
        self.tracker.init(frame, box)
        self.previous = (frame, box)

    def update(self, frame: np.ndarray) -> Box:
        box = self.tracker.update(frame)
        self.step(self.previous[0], self.previous[1], frame, box)
        self.previous = (frame, box)
        return box

    def step(self, previous_frame, previous_box: Box, frame, box: Box) -> float:
        """One SGD step on examples of this pair; returns the loss before the step."""
        try:
            targets, searches, labels = self.generator.make_examples(
                previous_frame, previous_box, frame, box, rng=self.rng)
        except ValueError:
            return float("nan")  # a collapsed estimate gives no examples; track on
        net = self.solver.net
        preprocess_batch(targets, out=net.blobs["target"].data)
        preprocess_batch(searches, out=net.blobs["image"].data)
        net.blobs["bbox"].data[...] = labels.reshape(-1, 4, 1, 1)
        self.solver.step(1)
        return float(net.blobs["loss"].data)
