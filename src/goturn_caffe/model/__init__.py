"""The network: ``netspec`` (every prototxt, from one NetSpec source), ``net``
(where model files live; loading them safely), ``solver`` (the one SGD solver
builder), ``init_weights`` (CaffeNet -> GOTURN init), ``onnx_export``."""
