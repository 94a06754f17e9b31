"""Write the fallback model as a ``.tflite`` flatbuffer, builtin ops only.

Why build the flatbuffer by hand: the graph is nine builtin ops, and the only other routes that
worked in a trial were tensorflow-cpu's converter (a ~1.6 GB venv) and litert-torch (~2 GB, fixed
shapes only). The schema module shipped inside ``ai-edge-litert`` plus ``flatbuffers`` produce the
same file from numpy arrays with a ~160 MB install, and the official LiteRT interpreter verifies
it in the tests. Graph (see ``graph.run_graph``)::

    ids int32[1,L] -> GATHER(E) -> SUM(axis 1) ---------------------------\\
        -> NOT_EQUAL 0 -> CAST f32 -> SUM(axis 1) -> MAXIMUM 1 [-> SQRT] -> DIV -> [FC+RELU] -> FC -> SOFTMAX

The int8 variant stores ``E`` as int8 plus a float32 scale per row and dequantises only the
gathered rows (GATHER int8 -> CAST -> MUL by GATHERed scales), so the 4x smaller table never
needs expanding on the phone.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path
from typing import Callable

import flatbuffers
import numpy as np

from .graph import GraphWeights

# ``ai_edge_litert.schema_py_generated`` is LiteRT's generated flatbuffer schema, not a documented
# API, so it is used only within the major versions the export tests (official interpreter
# parity) have passed on; anything else is refused up front instead of writing a broken model.
LITERT_TESTED = ((1, 0), (3, 0))  # >= 1.0, < 3.0


def check_litert_version(version: str | None = None) -> str:
    """The installed ``ai-edge-litert`` version; ImportError if outside ``LITERT_TESTED``."""
    found = version or metadata.version("ai-edge-litert")
    parts = tuple(int(n) for n in re.findall(r"\d+", found)[:2])
    low, high = LITERT_TESTED
    if not low <= parts < high:
        raise ImportError(f"ai-edge-litert {found} is not a tested version (need >= {low[0]}.{low[1]}, "
                          f"< {high[0]}.{high[1]}): its generated schema module may differ; "
                          "install a tested version or re-run the export tests on this one")
    return found


check_litert_version()
from ai_edge_litert import schema_py_generated as tfl  # noqa: E402  (after the version check)

INPUT_NAME = "ids"
OUTPUT_NAME = "probabilities"
BUFFER_ALIGNMENT = 16  # constant data aligned like TF's converter does, for direct mmap reads

_TYPES = {np.dtype(np.float32): tfl.TensorType.FLOAT32, np.dtype(np.int32): tfl.TensorType.INT32,
          np.dtype(np.int8): tfl.TensorType.INT8, np.dtype(np.bool_): tfl.TensorType.BOOL}


class _AlignedBuffer(tfl.BufferT):
    """A buffer whose bytes start on a 16-byte boundary (the stock Pack aligns to 1)."""

    def Pack(self, builder: flatbuffers.Builder) -> int:
        data = None
        if self.data is not None:
            payload = self.data.tobytes()
            builder.StartVector(1, len(payload), BUFFER_ALIGNMENT)
            builder.head -= len(payload)
            builder.Bytes[builder.head:builder.head + len(payload)] = payload
            builder.vectorNumElems = len(payload)
            data = builder.EndVector()
        tfl.BufferStart(builder)
        if data is not None:
            tfl.BufferAddData(builder, data)
        return tfl.BufferEnd(builder)


class _Graph:
    """Accumulates tensors, buffers and operators of one subgraph."""

    def __init__(self) -> None:
        self.tensors: list[tfl.TensorT] = []
        self.buffers: list[tfl.BufferT] = [tfl.BufferT()]  # buffer 0: the empty sentinel
        self.operators: list[tfl.OperatorT] = []
        self.opcodes: list[int] = []

    def tensor(self, name: str, shape: list[int], dtype, data: np.ndarray | None = None) -> int:
        t = tfl.TensorT()
        t.name, t.shape, t.type = name, list(shape), _TYPES[np.dtype(dtype)]
        t.buffer = 0
        if data is not None:
            buf = _AlignedBuffer()
            buf.data = np.ascontiguousarray(data, dtype=dtype)
            self.buffers.append(buf)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const(self, name: str, array: np.ndarray) -> int:
        return self.tensor(name, list(array.shape), array.dtype, array)

    def op(self, code: int, inputs: list[int], outputs: list[int], options_type: int = 0,
           options=None) -> None:
        if code not in self.opcodes:
            self.opcodes.append(code)
        o = tfl.OperatorT()
        o.opcodeIndex = self.opcodes.index(code)
        o.inputs, o.outputs = inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.operators.append(o)


def _reducer(keep_dims: bool) -> tfl.ReducerOptionsT:
    opts = tfl.ReducerOptionsT()
    opts.keepDims = keep_dims
    return opts


def _fc(activation: int) -> tfl.FullyConnectedOptionsT:
    opts = tfl.FullyConnectedOptionsT()
    opts.fusedActivationFunction = activation
    return opts


def build_tflite(w: GraphWeights, max_len: int, description: str = "") -> bytes:
    """Serialise the graph for one model; returns the ``.tflite`` bytes."""
    B, Op, Opt = tfl.BuiltinOperator, tfl.BuiltinOptions, tfl.ActivationFunctionType
    g = _Graph()
    ids = g.tensor(INPUT_NAME, [1, max_len], np.int32)
    axis1 = g.const("axis1", np.array([1], np.int32))
    gather_opts = tfl.GatherOptionsT()
    gather_opts.axis = 0
    if w.embedding is not None:
        dim = w.embedding.shape[1]
        table = g.const("embedding", w.embedding.astype(np.float32))
        rows = g.tensor("rows", [1, max_len, dim], np.float32)
        g.op(B.GATHER, [table, ids], [rows], Op.GatherOptions, gather_opts)
    else:
        dim = w.embedding_q.shape[1]
        table = g.const("embedding_int8", w.embedding_q.astype(np.int8))
        scales = g.const("row_scale", w.row_scale.astype(np.float32))
        rows_q = g.tensor("rows_int8", [1, max_len, dim], np.int8)
        g.op(B.GATHER, [table, ids], [rows_q], Op.GatherOptions, gather_opts)
        rows_f = g.tensor("rows_unscaled", [1, max_len, dim], np.float32)
        cast = tfl.CastOptionsT()
        cast.inDataType, cast.outDataType = tfl.TensorType.INT8, tfl.TensorType.FLOAT32
        g.op(B.CAST, [rows_q], [rows_f], Op.CastOptions, cast)
        row_s = g.tensor("rows_scale", [1, max_len, 1], np.float32)
        g.op(B.GATHER, [scales, ids], [row_s], Op.GatherOptions, gather_opts)
        rows = g.tensor("rows", [1, max_len, dim], np.float32)
        g.op(B.MUL, [rows_f, row_s], [rows], Op.MulOptions, tfl.MulOptionsT())
    summed = g.tensor("summed", [1, dim], np.float32)
    g.op(B.SUM, [rows, axis1], [summed], Op.ReducerOptions, _reducer(False))

    zero = g.const("pad_id", np.zeros((1, 1), np.int32))
    mask = g.tensor("mask", [1, max_len], np.bool_)
    g.op(B.NOT_EQUAL, [ids, zero], [mask], Op.NotEqualOptions, tfl.NotEqualOptionsT())
    maskf = g.tensor("mask_f32", [1, max_len], np.float32)
    cast = tfl.CastOptionsT()
    cast.inDataType, cast.outDataType = tfl.TensorType.BOOL, tfl.TensorType.FLOAT32
    g.op(B.CAST, [mask], [maskf], Op.CastOptions, cast)
    count = g.tensor("count", [1, 1], np.float32)
    g.op(B.SUM, [maskf, axis1], [count], Op.ReducerOptions, _reducer(True))
    one = g.const("one", np.ones((1, 1), np.float32))
    divisor = g.tensor("count_min1", [1, 1], np.float32)
    g.op(B.MAXIMUM, [count, one], [divisor], Op.MaximumMinimumOptions, tfl.MaximumMinimumOptionsT())
    if w.pooling == "sqrtn":
        root = g.tensor("count_sqrt", [1, 1], np.float32)
        g.op(B.SQRT, [divisor], [root])
        divisor = root
    h = g.tensor("pooled", [1, dim], np.float32)
    g.op(B.DIV, [summed, divisor], [h], Op.DivOptions, tfl.DivOptionsT())

    if w.w1 is not None:
        w1, b1 = g.const("w1", w.w1), g.const("b1", w.b1)
        hidden = g.tensor("hidden", [1, w.w1.shape[0]], np.float32)
        g.op(B.FULLY_CONNECTED, [h, w1, b1], [hidden], Op.FullyConnectedOptions, _fc(Opt.RELU))
        h = hidden
    w2, b2 = g.const("w2_over_t", w.w2), g.const("b2_over_t", w.b2)
    logits = g.tensor("logits", [1, w.w2.shape[0]], np.float32)
    g.op(B.FULLY_CONNECTED, [h, w2, b2], [logits], Op.FullyConnectedOptions, _fc(Opt.NONE))
    probs = g.tensor(OUTPUT_NAME, [1, w.w2.shape[0]], np.float32)
    soft = tfl.SoftmaxOptionsT()
    soft.beta = 1.0
    g.op(B.SOFTMAX, [logits], [probs], Op.SoftmaxOptions, soft)

    sub = tfl.SubGraphT()
    sub.tensors, sub.operators, sub.inputs, sub.outputs = g.tensors, g.operators, [ids], [probs]
    sub.name = "main"
    model = tfl.ModelT()
    model.version = 3
    model.description = description
    model.subgraphs, model.buffers = [sub], g.buffers
    codes = []
    for code in g.opcodes:
        oc = tfl.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
        codes.append(oc)
    model.operatorCodes = codes
    builder = flatbuffers.Builder(1024 + sum(b.data.nbytes for b in g.buffers if b.data is not None))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def write_tflite(path: str | Path, w: GraphWeights, max_len: int, description: str = "") -> Path:
    p = Path(path)
    p.write_bytes(build_tflite(w, max_len, description))
    return p


def litert_runner(flatbuffer: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """A ``.tflite`` model loaded once in the official LiteRT interpreter: ``run(ids [n, max_len])``
    -> ``probabilities [n, n_classes]``, one row per invoke, as a phone runs it."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=flatbuffer)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]

    def run(ids: np.ndarray) -> np.ndarray:
        rows = []
        for row in np.asarray(ids, dtype=np.int32):
            interp.set_tensor(inp["index"], row[None, :])
            interp.invoke()
            rows.append(interp.get_tensor(out["index"])[0].copy())
        return np.array(rows).reshape(-1, out["shape"][-1])

    return run


def run_tflite(path: str | Path, ids: np.ndarray) -> np.ndarray:
    """Run a ``.tflite`` file in the official LiteRT interpreter, one row at a time."""
    return litert_runner(Path(path).read_bytes())(ids)
