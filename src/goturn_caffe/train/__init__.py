"""Training: ``batches`` (Caffe-free minibatches), ``prefetch`` (worker
processes), ``data_layer`` (the thin ``caffe.Layer``), ``training`` (the solver
loop, snapshots, resume), ``multi_gpu`` (NCCL data parallelism)."""
