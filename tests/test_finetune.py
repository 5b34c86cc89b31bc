"""Online fine-tuning (Appendix B): one fc-only SGD step per frame, on shared weights."""

import cv2
import numpy as np
from conftest import REPO_ROOT, restored

from goturn_caffe.geometry.boxes import Box
from goturn_caffe.track.finetune import OnlineFinetuningTracker
from goturn_caffe.track.goturn import GoturnTracker

SAMPLE_CAR = REPO_ROOT / "data" / "sample" / "vot" / "car"


def snapshot(net):
    return {name: [b.data.copy() for b in blobs] for name, blobs in net.params.items()}


def test_each_frame_takes_one_fc_only_step_on_the_tracking_weights(deploy_net):
    with restored(deploy_net, [name for name in deploy_net.params if name.startswith("fc")]):
        check_fc_only_steps(deploy_net)


def check_fc_only_steps(net):
    net.params["fc8-shapes"][1].data[...] = [2.5, 2.5, 7.5, 7.5]  # a sensible untrained box
    tracker = OnlineFinetuningTracker(GoturnTracker(net=net), learning_rate=1e-6,
                                      augmented_per_pair=2)
    frames = [cv2.imread(str(SAMPLE_CAR / f"{i:08d}.jpg")) for i in (1, 2, 3)]
    tracker.init(frames[0], Box.from_xywh(6, 166, 43, 27))
    before = snapshot(net)
    tracker.update(frames[1])
    assert tracker.solver.iter == 1
    after = snapshot(net)
    for name in before:
        changed = any(not np.array_equal(a, b) for a, b in zip(before[name], after[name]))
        assert changed == name.startswith("fc"), name
    # the step went into the deploy net's own weights (shared memory, not a copy)
    assert np.shares_memory(net.params["fc8-shapes"][0].data,
                            tracker.solver.net.params["fc8-shapes"][0].data)
    tracker.update(frames[2])
    assert tracker.solver.iter == 2


def test_finetuning_is_off_by_default():
    import inspect

    from goturn_caffe.track.builder import build_tracker

    assert inspect.signature(build_tracker).parameters["finetune"].default is False
