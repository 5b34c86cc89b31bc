"""What the demonstration training leaves behind (issue 21): the README's list of
kept files is checked against a real (one-iteration, small-net) run of it."""

import functools
import json

from conftest import REPO_ROOT

from goturn_caffe import demo
from goturn_caffe.model import netspec
from goturn_caffe.train import data_layer


def test_the_demonstration_training_keeps_the_model_and_the_seven_files_the_readme_names(
        caffe, tmp_path, monkeypatch):
    small = functools.partial(netspec.NetOptions, fc_layers=1, current_frame_only=True)
    monkeypatch.setattr(netspec, "NetOptions", small)   # the real run's files, a small net
    monkeypatch.setattr(data_layer, "default_workers", lambda: 1)  # one spawned data worker
    models, output = tmp_path / "models", tmp_path / "out"
    model = demo.demonstration_model(train_iters=1, log=lambda _: None, models_dir=models,
                                     output_dir=output)
    run = output / "train"
    assert model == models / "demo" / "goturn_DEMONSTRATION_ONLY.caffemodel" and model.is_file()
    assert sorted(p.name for p in run.iterdir()) == sorted(demo.KEPT_RUN_FILES)  # no snapshots
    assert len(demo.KEPT_RUN_FILES) == 7
    assert json.loads((run / "summary.json").read_text())["model"] == str(model)
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    assert "seven small files" in readme
    assert all(f"`{name}`" in readme for name in demo.KEPT_RUN_FILES)
    assert "Of the demonstration training only the model and its loss curve" not in readme
