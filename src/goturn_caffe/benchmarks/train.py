"""Solver throughput: iterations/s of the training net fed by the Python data
layer, against the same net fed from memory (the bare net), and the examples/s
the data layer produces on its own: does the data keep up with the solver?"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace

from goturn_caffe.benchmarks.common import dataset_roots, device_name, engines_arg
from goturn_caffe.benchmarks.data import data_layer_rate
from goturn_caffe.config import AUTHORS
from goturn_caffe.datasets.arguments import add_dataset_arguments


def configure(parser: argparse.ArgumentParser) -> None:
    add_dataset_arguments(parser)
    parser.add_argument("--gpu", type=int, help="GPU id (default: the CPU)")
    parser.add_argument("--engine", type=engines_arg, default=["default"],
                        help="one Caffe engine for the training net (default: default)")
    parser.add_argument("--batch-size", type=int, default=AUTHORS.batch_size,
                        help="examples per iteration (default %(default)s)")
    parser.add_argument("--iterations", type=int, default=3,
                        help="timed solver iterations per case after 2 warm-up ones (default 3; "
                             "use 50+ on a GPU)")
    parser.add_argument("--workers", type=int, help="data-layer workers (default: CPUs - 1, at least 2)")
    parser.add_argument("--train-conv", action="store_true",
                        help="convolutions trainable too (training without ImageNet weights)")


def step_seconds(solver, iterations: int) -> list:
    """Seconds of each of ``iterations`` solver iterations (warm the solver up first)."""
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        solver.step(1)
        samples.append(time.perf_counter() - start)
    return samples


def bare_solver(options, folder, name: str, engine: str, solver_options: dict):
    """A solver of the training net of ``options`` fed from memory (Input layers),
    with random inputs.  With ``options.dedup_targets`` the batch's examples come
    in pairs of 1 + k3 sharing a target crop, the first pair cut by the batch
    boundary (the authors' batches with carry-over; 6 distinct crops in 50)."""
    import numpy as np

    from goturn_caffe.model.net import set_engine
    from goturn_caffe.model.netspec import build_net
    from goturn_caffe.model.solver import make_solver

    param = build_net(options, train=True, python_data=False)
    set_engine(param, engine)
    solver = make_solver(param, folder, name, **solver_options)
    net = solver.net
    if options.dedup_targets:
        pair = AUTHORS.augmented_per_pair + 1
        index = (np.arange(options.batch_size) + pair - 1) // pair
        net.blobs["target_index"].data[...] = index
        net.blobs["target"].reshape(int(index[-1]) + 1, *net.blobs["target"].data.shape[1:])
    rng = np.random.default_rng(0)
    for blob in ("target", "image"):
        net.blobs[blob].data[...] = rng.normal(0, 50, net.blobs[blob].data.shape)
    net.blobs["bbox"].data[...] = rng.uniform(2, 8, net.blobs["bbox"].data.shape)
    return solver


def data_roots(args) -> dict:
    """The dataset roots of the options, as the data layer's param_str takes them."""
    if args.alov_split != "all" or args.keep_vot_overlap:
        raise ValueError("the data layer reads all ALOV videos but those in VOT2014: "
                         "--alov-split and --keep-vot-overlap do not apply to `train`")
    return dataset_roots(args)


def inputs(args) -> list:
    """What the run reads: the dataset roots."""
    return list(dataset_roots(args).values())


def run(args) -> dict:
    from goturn_caffe.caffe_env import select_device
    from goturn_caffe.datasets.arguments import training_set_from_args
    from goturn_caffe.model.net import check_engine, set_engine
    from goturn_caffe.model.netspec import NetOptions, build_net
    from goturn_caffe.model.solver import make_solver
    from goturn_caffe.train.data_layer import default_workers

    if len(args.engine) != 1:
        raise ValueError("train takes one --engine")
    roots = data_roots(args)
    training_set = training_set_from_args(args)   # bad roots fail here, not inside Caffe's layer setup
    engine = args.engine[0]
    check_engine(engine, args.gpu)
    select_device(args.gpu)
    workers = args.workers or default_workers()
    batch = args.batch_size
    data = dict(roots, workers=workers, seed=AUTHORS.seed)
    device = device_name(args.gpu)
    results = {"device": device, "engine": engine, "batch_size": batch, "workers": workers,
               "train_conv": args.train_conv, "iterations": args.iterations}
    solver_options = dict(gpu=args.gpu is not None, max_iter=10 ** 8, snapshot=0, display=0)
    options = NetOptions(batch_size=batch, train_conv=args.train_conv)
    dedup = options.dedup_exact   # what training does: see TrainConfig.dedup_targets
    results["dedup_targets"] = dedup
    with tempfile.TemporaryDirectory() as folder:
        # The bare net: the same training net fed from memory (Input layers);
        # with frozen convolutions the authors' plain net and the deduplicated
        # one training uses, stepped in turn so both see the same machine load.
        cases = {"plain": options}
        if dedup:
            cases["dedup"] = replace(options, dedup_targets=True)
        solvers = {case: bare_solver(case_options, folder, f"bare_{case}", engine, solver_options)
                   for case, case_options in cases.items()}
        for solver in solvers.values():
            solver.step(2)  # warm-up
        samples = {case: [] for case in solvers}
        for _ in range(args.iterations):
            for case, solver in solvers.items():
                samples[case] += step_seconds(solver, 1)
        bare = {case: statistics.median(seconds) for case, seconds in samples.items()}
        bare_s = bare["dedup" if dedup else "plain"]
        del solvers, solver

        fed_param = build_net(replace(options, dedup_targets=dedup,
                                      data_params=dict(data, batch_size=batch)), train=True)
        set_engine(fed_param, engine)
        solver = make_solver(fed_param, folder, "fed", **solver_options)
        layer = solver.net.layers[0]
        try:
            solver.step(2)  # warm-up: workers started, caches warm
            waited_before = layer.wait_seconds
            samples = step_seconds(solver, args.iterations)
            fed_s = statistics.median(samples)
            wait_share = (layer.wait_seconds - waited_before) / sum(samples)
        finally:
            layer.batch_source.close()
        del solver

    produced = data_layer_rate(training_set, batch, workers, max(2, args.iterations))
    consumed = batch / bare_s
    results.update({
        "bare_s_per_iter": round(bare_s, 5), "bare_examples_per_s": round(consumed, 3),
        "bare_plain_s_per_iter": round(bare["plain"], 5),
        "bare_dedup_s_per_iter": round(bare["dedup"], 5) if dedup else None,
        "dedup_speedup": round(bare["plain"] / bare["dedup"], 3) if dedup else None,
        "with_data_layer_s_per_iter": round(fed_s, 5),
        "with_data_layer_examples_per_s": round(batch / fed_s, 3),
        "solver_waiting_for_data_share": round(wait_share, 3),
        "data_layer_examples_per_s": round(produced, 3),
        "data_keeps_up": produced >= consumed})
    plural = "s" if workers != 1 else ""
    print(f"train  {device}, engine {engine}, batch {batch}, {workers} data worker{plural}"
          f"{', convolutions trainable' if args.train_conv else ''}:")
    if dedup:
        print(f"train  bare net, plain (authors'):  {bare['plain'] * 1000:9.1f} ms/iteration = "
              f"{batch / bare['plain']:8.1f} examples/s")
    print(f"train  bare net (inputs in memory): {bare_s * 1000:9.1f} ms/iteration = "
          f"{consumed:8.1f} examples/s consumed"
          + (f" (target crops deduplicated: {bare['plain'] / bare_s:.2f}x the plain net)"
             if dedup else ""))
    print(f"train  with the Python data layer:  {fed_s * 1000:9.1f} ms/iteration = "
          f"{batch / fed_s:8.1f} examples/s ({100 * wait_share:.0f} % of it waiting for data)")
    print(f"train  data layer alone: {produced:8.1f} examples/s produced -> "
          f"{'keeps up' if produced >= consumed else 'does NOT keep up'} with the bare solver")
    return results
