"""Write the .tflite test fixtures in tests/tflite/fixtures/ (run once; the outputs are committed).

Needs TensorFlow, which nothing else in edge-sdk does: run it from a separate venv,
    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow
    /tmp/tfvenv/bin/python tools/make_tflite_fixtures.py [--only NAME ...]
Weights are random but seeded, and the converter is calibrated with seeded random
inputs: the tests check bit-exactness against TFLite's reference kernels, not accuracy.
"""
from __future__ import annotations

import argparse
import os
import struct
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

keras = tf.keras
OUT = Path(__file__).resolve().parent.parent / "tests" / "tflite" / "fixtures"
SEED = 1234


def _randomize_batchnorm(model: keras.Model, rng: np.random.Generator) -> None:
    """Freshly built BatchNorm layers are identities; give them seeded statistics so that the
    quantized tensors see varied scales (and BN folding is exercised)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                               rng.normal(0, 0.2, beta.shape).astype(np.float32),
                               rng.normal(0, 0.2, mean.shape).astype(np.float32),
                               rng.uniform(0.5, 1.5, var.shape).astype(np.float32)])


def _convert(fn_or_model, shapes, int8: bool, io_int8: bool = True, lo: float = -1.0, hi: float = 1.0) -> bytes:
    if isinstance(fn_or_model, keras.Model):
        conv = tf.lite.TFLiteConverter.from_keras_model(fn_or_model)
    else:
        conv = tf.lite.TFLiteConverter.from_concrete_functions([fn_or_model.get_concrete_function()])
    if int8:
        rng = np.random.default_rng(SEED)

        def rep():
            for _ in range(16):
                yield [rng.uniform(lo, hi, s).astype(np.float32) for s in shapes]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io_int8:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
    return conv.convert()


def _fn(body, *shapes):
    return tf.function(body, input_signature=[tf.TensorSpec(s, tf.float32) for s in shapes])


def mobilenet_v2() -> keras.Model:
    keras.utils.set_random_seed(SEED)
    m = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=2)
    _randomize_batchnorm(m, np.random.default_rng(SEED))
    return m


def small_cnn() -> keras.Model:
    keras.utils.set_random_seed(SEED)
    L = keras.layers
    m = keras.Sequential([
        keras.Input((32, 32, 3)),
        L.Conv2D(8, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(16, 3, strides=2, padding="valid", activation="relu6"),
        L.DepthwiseConv2D(3, padding="same", depth_multiplier=2), L.ReLU(),
        L.AveragePooling2D(2), L.Flatten(), L.Dense(10), L.Softmax()])
    return m


def conv_pool_overlap() -> keras.Model:
    """Strided conv + overlapping, padded max pool (for the row-fused kernel's edge cases)."""
    keras.utils.set_random_seed(SEED)
    L = keras.layers
    return keras.Sequential([keras.Input((37, 41, 3)),
                             L.Conv2D(6, 3, strides=2, padding="same", activation="relu6"),
                             L.MaxPooling2D(3, strides=2, padding="same"),
                             L.Conv2D(4, 3, padding="valid", activation="relu"),
                             L.MaxPooling2D(2)])


def meso4() -> keras.Model:
    """MesoNet's Meso4 (Afchar et al. 2018) as in its Keras source, 256x256 RGB in, one sigmoid out."""
    keras.utils.set_random_seed(SEED)
    L = keras.layers
    x = keras.Input((256, 256, 3))
    y = x
    for filters, k, pool in ((8, 3, 2), (8, 5, 2), (16, 5, 2), (16, 5, 4)):
        y = L.Conv2D(filters, k, padding="same", activation="relu")(y)
        y = L.BatchNormalization()(y)
        y = L.MaxPooling2D(pool, padding="same")(y)
    y = L.Flatten()(y)
    y = L.Dropout(0.5)(y)
    y = L.Dense(16)(y)
    y = L.LeakyReLU(negative_slope=0.1)(y)
    y = L.Dropout(0.5)(y)
    y = L.Dense(1, activation="sigmoid")(y)
    m = keras.Model(x, y)
    _randomize_batchnorm(m, np.random.default_rng(SEED))
    return m


ASYM = (-0.6, 1.4)  # calibration range of most single-op models: non-zero zero points


def single_ops() -> dict[str, tuple]:
    """name -> (tf.function, input shapes, calibration range): one TFLite op (plus I/O) each."""
    rng = np.random.default_rng(SEED)
    c4 = tf.constant(rng.uniform(-1, 1, (1, 1, 1, 4)).astype(np.float32))
    s = (1, 6, 7, 4)
    return {
        "add": (_fn(lambda a, b: a + b, s, s), [s, s], ASYM),
        "add_bcast": (_fn(lambda a: tf.nn.relu(a + c4), s), [s], (-2, 2)),
        "sub": (_fn(lambda a, b: a - b, s, s), [s, s], ASYM),
        "mul": (_fn(lambda a, b: a * b, s, s), [s, s], (-2, 2)),
        "mul_bcast": (_fn(lambda a: a * c4, s), [s], (-2, 2)),
        "avg_pool": (_fn(lambda a: tf.nn.avg_pool2d(a, 3, 2, "SAME"), s), [s], ASYM),
        "max_pool": (_fn(lambda a: tf.nn.max_pool2d(a, 2, 2, "VALID"), s), [s], ASYM),
        "mean_hw": (_fn(lambda a: tf.reduce_mean(a, axis=[1, 2]), s), [s], ASYM),
        "mean_hw_keep": (_fn(lambda a: tf.reduce_mean(a, axis=[1, 2], keepdims=True), s), [s], ASYM),
        "logistic": (_fn(tf.sigmoid, s), [s], (-6, 6)),
        "softmax": (_fn(lambda a: tf.nn.softmax(a, axis=-1), (1, 10)), [(1, 10)], (-4, 4)),
        "softmax_4d": (_fn(lambda a: tf.nn.softmax(a, axis=-1), (1, 2, 3, 5)), [(1, 2, 3, 5)], (-4, 4)),
        "softmax_1x1": (_fn(lambda a: tf.nn.softmax(a, axis=-1), (1, 1, 1, 10)), [(1, 1, 1, 10)], (-4, 4)),
        "hard_swish": (_fn(lambda a: a * tf.nn.relu6(a + 3.0) / 6.0, s), [s], (-5, 5)),
        "relu": (_fn(tf.nn.relu, s), [s], (-1, 2)),
        "relu6": (_fn(tf.nn.relu6, s), [s], (-3, 8)),
        "leaky_relu": (_fn(lambda a: tf.nn.leaky_relu(a, 0.1), s), [s], (-2, 2)),
        "pad": (_fn(lambda a: tf.pad(a, [[0, 0], [1, 2], [0, 1], [0, 0]]), s), [s], ASYM),
        "concat": (_fn(lambda a, b: tf.concat([a, b * 3.0], axis=3), s, s), [s, s], ASYM),
        "strided_slice": (_fn(lambda a: a[:, 1:5:2, ::3, 1:], s), [s], ASYM),
        "transpose": (_fn(lambda a: tf.transpose(a, [0, 2, 1, 3]), s), [s], ASYM),
        "resize_nearest": (_fn(lambda a: tf.image.resize(a, (12, 14), "nearest"), s), [s], ASYM),
        "resize_nearest_hp": (_fn(lambda a: tf.compat.v1.image.resize_nearest_neighbor(
            a, (9, 11), half_pixel_centers=True), s), [s], ASYM),
        "reshape": (_fn(lambda a: tf.reshape(a, (1, 42, 4)) * 2.0, s), [s], ASYM),
        "tanh": (_fn(tf.tanh, s), [s], (-2, 2)),
        # L2_NORMALIZATION is not supported by edge-sdk's TFLite frontend: the error test uses it
        "l2norm": (_fn(lambda a: tf.math.l2_normalize(a, axis=-1), s), [s], ASYM),
    }


def same_scale_mean(data: bytes) -> bytes:
    """op_mean_hw_int8 with the output's scale and zero point set to the input's: TFLite then takes
    its other int8 MEAN path (reference_ops::Mean on the codes).  The converter never picks equal
    scales for a mean of random data, so the two quantization vectors are rewritten in place."""
    interp = tf.lite.Interpreter(model_content=data)
    (si, zi), (so, zo) = interp.get_input_details()[0]["quantization"], interp.get_output_details()[0]["quantization"]
    out = bytearray(data)
    for old, new in ((struct.pack("<f", so), struct.pack("<f", si)), (struct.pack("<q", zo), struct.pack("<q", zi))):
        assert out.count(old) == 1, "the output's quantization must be unique bytes in this small model"
        k = out.index(old)
        out[k:k + len(old)] = new
    return bytes(out)


def requantize_model() -> bytes:
    """One int8 -> int8 QUANTIZE (a requantization: TFLite's converter writes these between
    tensors whose scales must differ; a Keras model does not give one on demand, so the model
    is built directly with the schema's object API)."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as fb

    def tensor(name, scale, zp, shape=(1, 6, 7, 4)):
        t = fb.TensorT()
        t.name, t.shape, t.type, t.buffer = name, list(shape), fb.TensorType.INT8, 0
        t.quantization = fb.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [scale], [zp]
        return t
    code = fb.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = fb.BuiltinOperator.QUANTIZE
    code.version = 1
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    sg = fb.SubGraphT()
    sg.tensors = [tensor("x", 0.0173, -21), tensor("y", 0.0061, 37)]
    sg.inputs, sg.outputs, sg.operators, sg.name = [0], [1], [op], "main"
    model = fb.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.description = 3, [code], [sg], "requantize"
    model.buffers = [fb.BufferT()]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    jobs: dict[str, callable] = {
        "mobilenet_v2_035_96_int8": lambda: _convert(mobilenet_v2(), [(1, 96, 96, 3)], True),
        "small_cnn_int8": lambda: _convert(small_cnn(), [(1, 32, 32, 3)], True),
        "small_cnn_fp32": lambda: _convert(small_cnn(), [(1, 32, 32, 3)], False),
        "small_cnn_int8_float_io": lambda: _convert(small_cnn(), [(1, 32, 32, 3)], True, io_int8=False),
        "conv_pool_overlap_int8": lambda: _convert(conv_pool_overlap(), [(1, 37, 41, 3)], True),
        "meso4_256_int8": lambda: _convert(meso4(), [(1, 256, 256, 3)], True, lo=0.0, hi=1.0),
    }
    for name, (fn, shapes, (lo, hi)) in single_ops().items():
        jobs[f"op_{name}_int8"] = (lambda fn=fn, shapes=shapes, lo=lo, hi=hi: _convert(fn, shapes, True, lo=lo, hi=hi))
    jobs["op_requantize_int8"] = requantize_model
    mean_fn, mean_shapes, mean_range = single_ops()["mean_hw"]
    jobs["op_mean_hw_samescale_int8"] = lambda: same_scale_mean(
        _convert(mean_fn, mean_shapes, True, lo=mean_range[0], hi=mean_range[1]))
    for name, job in jobs.items():
        if args.only and name not in args.only:
            continue
        data = job()
        (OUT / f"{name}.tflite").write_bytes(data)
        print(f"{name}.tflite  {len(data)} bytes")


if __name__ == "__main__":
    main()
