"""The GOTURN deploy net alone: parameter count and the time of one pycaffe
forward pass, per batch size and engine."""

from __future__ import annotations

import argparse
import os

from goturn_caffe.benchmarks.common import add_engine_option, device_name, ints_arg, time_call


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--forwards", type=int, default=50,
                        help="timed forward passes per case; the median is reported "
                             "(default 50; --repeats is for the microbenchmarks)")
    parser.add_argument("--gpu", type=int, help="GPU id (default: the CPU)")
    parser.add_argument("--batches", type=ints_arg, default=[1],
                        help="batch sizes, comma-separated (default 1)")
    add_engine_option(parser)


def inputs(args) -> list:
    """What the run reads: the deploy prototxt."""
    from goturn_caffe.model.net import DEPLOY_PROTOTXT

    return [DEPLOY_PROTOTXT]


def run(args) -> dict:
    import numpy as np

    from goturn_caffe.caffe_env import select_device
    from goturn_caffe.model.net import DEPLOY_PROTOTXT, check_engine, load_net, parameter_count

    for engine in args.engine:
        check_engine(engine, args.gpu)
    select_device(args.gpu)
    device = device_name(args.gpu)
    # other jobs on the machine slow the CPU figure down: keep the load beside it
    results = {"device": device, "forwards": args.forwards, "cases": {},
               "load_average_1min": round(os.getloadavg()[0], 2)}
    rng = np.random.default_rng(0)
    for engine in args.engine:
        net = load_net(DEPLOY_PROTOTXT, engine=engine)  # filler weights: time does not depend on them
        results["parameters"] = parameter_count(net)
        for batch in args.batches:
            # crops like the tracker's: mean-subtracted pixels, made on the host
            inputs = {name: rng.normal(0, 50, (batch,) + net.blobs[name].data.shape[1:]).astype(np.float32)
                      for name in net.inputs}
            for name, array in inputs.items():
                net.blobs[name].reshape(*array.shape)
                net.blobs[name].data[...] = array
            net.reshape()

            def forward_with_copy(net=net, inputs=inputs):
                for name, array in inputs.items():  # host -> blob; on a GPU the upload is in forward
                    net.blobs[name].data[...] = array
                net.forward()

            forward_ms = time_call(net.forward, max(1, args.forwards), warmup=5) / 1000
            copy_ms = time_call(forward_with_copy, max(1, args.forwards), warmup=5) / 1000
            case = {"engine": engine, "batch": batch, "forward_ms": round(forward_ms, 3),
                    "forward_with_input_copy_ms": round(copy_ms, 3)}
            results["cases"][f"{engine} batch={batch}"] = case
            print(f"net  {engine:<7s} batch {batch:<3d} forward {forward_ms:8.3f} ms, with the "
                  f"input arrays copied in {copy_ms:8.3f} ms (median of {args.forwards}) on {device}")
        del net
    print(f"net  GOTURN deploy net, {results['parameters']:,} parameters; load average "
          f"{results['load_average_1min']}")
    return results
