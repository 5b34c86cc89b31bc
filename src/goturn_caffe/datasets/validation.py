"""What of a training set's index can be trained on, once its images are decoded.

Pure functions on the index (lists of :class:`~goturn_caffe.datasets.base.Video`
and :class:`~goturn_caffe.datasets.base.StillImage`); whatever is dropped is
recorded in a :class:`~goturn_caffe.datasets.base.SkipReport` with its reason.
"""

from __future__ import annotations

from goturn_caffe.datasets.base import SkipReport, StillImage, Video
from goturn_caffe.datasets.imagenet import boxes_in_image
from goturn_caffe.geometry.boxes import Box

MIN_VIDEO_ANNOTATIONS = 2  # one training pair needs two annotated frames


def is_trainable_frame(frame) -> bool:
    """Whether a video frame can be drawn for training: it has a box of positive
    size and the target is visible (not ``absent``, and not GOT-10k's cover
    level 0). NaN lines, zero-size boxes and invisible targets never are."""
    return (frame.box is not None and frame.box.is_valid() and not frame.absent
            and frame.cover != 0)


def usable_entries(videos: list, images: list, image_sizes: dict,
                   report: SkipReport) -> tuple[list, list]:
    """(videos, images) cut to what can be trained on.

    ``image_sizes``: key -> (width, height) of every image that decoded; a
    frame or still image whose key is absent is dropped, and so is a box
    lying entirely outside its image (a box partly outside is kept, as the
    authors do). Videos left with < 2 frames and images with no box go too.
    """
    def usable(key: str, box: Box, where: str) -> bool:
        if key not in image_sizes:
            return False
        if not box.overlaps_image(*image_sizes[key]):
            report.skip(where, f"box outside image: {box} in {image_sizes[key][0]} x "
                               f"{image_sizes[key][1]}")
            return False
        return True

    kept_videos = []
    for video in videos:
        frames = [f for f in video.frames if usable(f.path, f.box, f.path)]
        if len(frames) >= MIN_VIDEO_ANNOTATIONS:
            kept_videos.append(Video(video.name, frames, video.category))
        else:
            report.skip(video.name, f"too few annotated frames: {len(frames)} usable")
    kept_images = []
    for image in images:
        if image.path not in image_sizes:
            continue
        real_boxes = boxes_in_image(image, *image_sizes[image.path])
        boxes = [box for box, real in zip(image.boxes, real_boxes)
                 if usable(image.path, real, image.path)]
        if boxes:
            kept_images.append(StillImage(image.path, boxes, image.annotated_size))
        else:
            report.skip(image.path, "no usable box: every box lies outside the image")
    return kept_videos, kept_images
