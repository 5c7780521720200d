#!/usr/bin/python3
"""Convert a tfjs Layers (Keras) model, as dumped by extract.cjs, to an ONNX graph.

    tfjs2onnx.py EXTRACT_DIR OUT.onnx [--tap LAYER[:mean|:max]]... [--graph-name NAME]

EXTRACT_DIR holds model.json (tfjs topology + weightsManifest) and weights.bin (the raw weight
bytes in manifest order). Only the layer types of the Keras applications used by nsfwjs
(MobileNetV2, InceptionV3) are supported; anything else stops the conversion with an error.

The ONNX graph (opset 13, IR version 7):
  input      'input'     float32 NHWC [N, H, W, C] exactly as the tfjs model takes it
                         (for nsfwjs: RGB scaled to [0, 1], 224x224)
  outputs    'embedding' [N, F]  the tensor that feeds the first Dense layer, i.e. the pooled
                                 backbone features (1280-d for MobileNetV2)
             'probs'     [N, K]  the model's own final output (nsfwjs: 5-way softmax over
                                 Drawing, Hentai, Neutral, Porn, Sexy)
             one per --tap: 'gap_<LAYER>' (mean) or 'gmp_<LAYER>' (max), [N, C], the global
                                 spatial pooling of the activation of that Keras layer
Internally the graph runs in NCHW (one Transpose after the input), which is what ONNX's Conv
expects.

Numerics follow tfjs: uint8/uint16-quantised weights are dequantised as q*scale + min (computed in
double, stored as float32, like tfjs' decodeWeights); batch normalisation that directly follows a
convolution is folded into that convolution's weights and bias (computed in double), otherwise it
becomes a Mul + Add. TensorFlow 'same' padding (asymmetric when the total is odd: the extra pixel
goes at the end) and ZeroPadding2D are expressed as explicit Conv/Pool pads.

The output is deterministic: no timestamps, no paths, nodes and initialisers in layer order.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 7


def fail(msg):
    sys.exit(f'tfjs2onnx: {msg}')


# --------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------

def load_weights(manifest, raw):
    """Decode weights.bin into {name: float32 array} following the tfjs weightsManifest."""
    weights, off = {}, 0
    for group in manifest:
        for w in group['weights']:
            shape = w['shape']
            n = int(np.prod(shape)) if shape else 1
            q = w.get('quantization')
            if q:
                qdt = {'uint8': np.uint8, 'uint16': np.uint16}.get(q['dtype'])
                if qdt is None:
                    fail(f"weight {w['name']}: unsupported quantisation {q['dtype']}")
                nb = n * np.dtype(qdt).itemsize
                qv = np.frombuffer(raw[off:off + nb], dtype=qdt).astype(np.float64)
                a = (qv * q['scale'] + q['min']).astype(np.float32)
            elif w['dtype'] == 'float32':
                nb = 4 * n
                a = np.frombuffer(raw[off:off + nb], dtype='<f4').astype(np.float32)
            else:
                fail(f"weight {w['name']}: unsupported dtype {w['dtype']}")
            if a.size != n:
                fail(f"weights.bin is too short for {w['name']}")
            off += nb
            weights[w['name']] = a.reshape(shape)
    if off != len(raw):
        fail(f'weights.bin has {len(raw)} bytes, the manifest describes {off}')
    return weights


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------

def same_pads(size, k, s, d=1):
    """TensorFlow 'same' padding along one axis: (before, after)."""
    ke = (k - 1) * d + 1
    out = math.ceil(size / s)
    total = max((out - 1) * s + ke - size, 0)
    return total // 2, total - total // 2


def window_pads(cfg, h, w, kh, kw, sh, sw, dh=1, dw=1, extra=(0, 0, 0, 0)):
    """ONNX pads [top, left, bottom, right] and output size for a conv/pool window.
    extra = (top, bottom, left, right) from a fused ZeroPadding2D."""
    if cfg.get('padding', 'valid') == 'same':
        t, b = same_pads(h, kh, sh, dh)
        le, r = same_pads(w, kw, sw, dw)
    elif cfg.get('padding', 'valid') == 'valid':
        t = b = le = r = 0
    else:
        fail(f"padding {cfg['padding']!r} not supported")
    t, b, le, r = t + extra[0], b + extra[1], le + extra[2], r + extra[3]
    oh = (h + t + b - ((kh - 1) * dh + 1)) // sh + 1
    ow = (w + le + r - ((kw - 1) * dw + 1)) // sw + 1
    return [t, le, b, r], oh, ow


def pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


# --------------------------------------------------------------------------------------------
# Graph builder
# --------------------------------------------------------------------------------------------

class Builder:
    def __init__(self, topology, weights):
        cfg = topology['model_config']['config']
        self.layers = cfg['layers']
        self.output_layers = cfg['output_layers']
        self.W = weights
        self.nodes = []
        self.inits = {}          # name -> float32/int64 array, in creation order
        self.shape = {}          # onnx tensor -> [C, H, W] (4-D NCHW) or [F] (2-D), batch excluded
        self.alias = {}          # keras layer name -> onnx tensor holding its output
        self.conv_params = {}    # onnx tensor of a Conv output -> (weight OIHW, bias), float64;
                                 # kept apart until the end so batch-norm can be folded in
        self.pending_pad = {}    # ZeroPadding2D layer -> (input tensor, (t, b, l, r))
        self.consumers = {}      # keras layer name -> list of consuming layer classes
        self.in_shape = None     # (H, W, C) of the model input
        for layer in self.layers:
            for src in self.inbound(layer):
                self.consumers.setdefault(src, []).append(layer['class_name'])

    @staticmethod
    def inbound(layer):
        nodes = layer.get('inbound_nodes') or []
        if len(nodes) > 1:
            fail(f"layer {layer['name']} is shared (called {len(nodes)} times); not supported")
        return [x[0] for x in nodes[0]] if nodes else []

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def init(self, name, array):
        if name in self.inits:
            fail(f'duplicate initialiser {name}')
        self.inits[name] = array
        return name

    def activation(self, x, kind, name):
        """Apply a Keras activation by name; returns the output tensor."""
        if kind in (None, 'linear'):
            return x
        y = f'{name}/{kind}'
        if kind == 'relu':
            self.node('Relu', [x], y)
        elif kind == 'relu6':
            self.node('Clip', [x, self.init(y + '/min', np.array(0, np.float32)),
                               self.init(y + '/max', np.array(6, np.float32))], y)
        elif kind == 'sigmoid':
            self.node('Sigmoid', [x], y)
        elif kind == 'tanh':
            self.node('Tanh', [x], y)
        elif kind == 'softmax':
            # Keras softmax is over the last axis: the feature axis (2-D) or channels (NCHW axis 1).
            self.node('Softmax', [x], y, axis=1 if len(self.shape[x]) == 3 else -1)
        else:
            fail(f'activation {kind!r} not supported')
        self.shape[y] = self.shape[x]
        return y

    def materialise_pad(self, layer_name):
        """A ZeroPadding2D whose consumer cannot absorb it becomes an explicit Pad node."""
        x, (t, b, le, r) = self.pending_pad.pop(layer_name)
        pads = self.init(layer_name + '/pads', np.array([0, 0, t, le, 0, 0, b, r], np.int64))
        y = self.node('Pad', [x, pads], layer_name, mode='constant')
        C, H, W = self.shape[x]
        self.shape[y] = [C, H + t + b, W + le + r]
        self.alias[layer_name] = y
        return y

    def source(self, layer_name, fuse_pad):
        """ONNX tensor for a layer's input, plus a fused ZeroPadding2D (t, b, l, r) if allowed."""
        if layer_name in self.pending_pad:
            if fuse_pad:
                return self.pending_pad[layer_name]
            self.materialise_pad(layer_name)
        return self.alias[layer_name], (0, 0, 0, 0)

    # ---- layers ----------------------------------------------------------------------------

    def convert(self):
        for layer in self.layers:
            cls, name = layer['class_name'], layer['name']
            handler = getattr(self, 'layer_' + cls, None)
            if handler is None:
                fail(f'layer type {cls} ({name}) not supported')
            handler(layer, layer['config'], name, self.inbound(layer))
        # Convolution weights are final only now (batch-norm folding updates them).
        for t, (wt, b) in self.conv_params.items():
            self.inits[t + '/W'] = wt.astype(np.float32)
            self.inits[t + '/b'] = b.astype(np.float32)

    def layer_InputLayer(self, layer, c, name, ins):
        _, H, W, C = c['batch_input_shape']
        if self.in_shape is not None:
            fail('more than one input layer')
        self.in_shape = (H, W, C)
        y = self.node('Transpose', ['input'], 'input/nchw', perm=[0, 3, 1, 2])
        self.shape[y] = [C, H, W]
        self.alias[name] = y

    def layer_ZeroPadding2D(self, layer, c, name, ins):
        if c.get('data_format', 'channels_last') != 'channels_last':
            fail(f'{name}: only channels_last is supported')
        p = c['padding']
        if isinstance(p, int):
            t = b = le = r = p
        else:
            (t, b), (le, r) = [pair(v) for v in p]
        x, _ = self.source(ins[0], fuse_pad=False)
        self.pending_pad[name] = (x, (t, b, le, r))   # fused into the consuming convolution

    def layer_Conv2D(self, layer, c, name, ins, depthwise=False):
        if c.get('data_format', 'channels_last') != 'channels_last':
            fail(f'{name}: only channels_last is supported')
        x, extra = self.source(ins[0], fuse_pad=True)
        C, H, W = self.shape[x]
        kh, kw = pair(c['kernel_size'])
        sh, sw = pair(c['strides'])
        dh, dw = pair(c.get('dilation_rate', 1))
        pads, oh, ow = window_pads(c, H, W, kh, kw, sh, sw, dh, dw, extra)
        if depthwise:
            k = self.W[name + '/depthwise_kernel']              # kh, kw, cin, multiplier
            cin, dm = k.shape[2], k.shape[3]
            wt = k.transpose(2, 3, 0, 1).reshape(cin * dm, 1, kh, kw)
            group, cout = cin, cin * dm
        else:
            k = self.W[name + '/kernel']                        # kh, kw, cin, cout
            wt = k.transpose(3, 2, 0, 1)
            group, cout = 1, k.shape[3]
        if c.get('use_bias', True):
            b = self.W[name + '/bias']
        else:
            b = np.zeros(cout, np.float32)
        y = self.node('Conv', [x, name + '/W', name + '/b'], name, kernel_shape=[kh, kw],
                      strides=[sh, sw], dilations=[dh, dw], pads=pads, group=group)
        self.conv_params[y] = (wt.astype(np.float64), b.astype(np.float64))
        self.shape[y] = [cout, oh, ow]
        self.alias[name] = self.activation(y, c.get('activation'), name)

    def layer_DepthwiseConv2D(self, layer, c, name, ins):
        self.layer_Conv2D(layer, c, name, ins, depthwise=True)

    def layer_BatchNormalization(self, layer, c, name, ins):
        x, _ = self.source(ins[0], fuse_pad=False)
        C = self.shape[x][0]
        axis = c.get('axis', -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis not in (-1, 3 if len(self.shape[x]) == 3 else 1):
            fail(f'{name}: batch-norm over axis {axis} not supported')
        def f64(key):
            if name + '/' + key not in self.W:
                fail(f'{name}: missing weight {key}')
            return self.W[name + '/' + key].astype(np.float64)
        gamma = f64('gamma') if c.get('scale', True) else np.ones(C)
        beta = f64('beta') if c.get('center', True) else np.zeros(C)
        mean, var = f64('moving_mean'), f64('moving_variance')
        scale = gamma / np.sqrt(var + c['epsilon'])
        shift = beta - mean * scale
        if x in self.conv_params and len(self.consumers.get(ins[0], [])) == 1:
            # y = scale * (W*x + b) + shift  ->  W' = scale*W, b' = scale*b + shift
            wt, b = self.conv_params[x]
            self.conv_params[x] = (wt * scale.reshape(-1, 1, 1, 1), b * scale + shift)
            self.alias[name] = x
            return
        bshape = (1, C, 1, 1) if len(self.shape[x]) == 3 else (1, C)
        m = self.node('Mul', [x, self.init(name + '/scale', scale.reshape(bshape).astype(np.float32))],
                      name + '/mul')
        y = self.node('Add', [m, self.init(name + '/shift', shift.reshape(bshape).astype(np.float32))],
                      name)
        self.shape[m] = self.shape[y] = self.shape[x]
        self.alias[name] = y

    def layer_ReLU(self, layer, c, name, ins):
        x, _ = self.source(ins[0], fuse_pad=False)
        if c.get('negative_slope') or c.get('threshold'):
            fail(f'{name}: ReLU with negative_slope/threshold not supported')
        mv = c.get('max_value')
        if mv is None:
            y = self.node('Relu', [x], name)
        else:
            y = self.node('Clip', [x, self.init(name + '/min', np.array(0, np.float32)),
                                   self.init(name + '/max', np.array(mv, np.float32))], name)
        self.shape[y] = self.shape[x]
        self.alias[name] = y

    def layer_Activation(self, layer, c, name, ins):
        x, _ = self.source(ins[0], fuse_pad=False)
        self.alias[name] = self.activation(x, c['activation'], name)

    def layer_Add(self, layer, c, name, ins):
        xs = [self.source(i, fuse_pad=False)[0] for i in ins]
        y = self.node('Add' if len(xs) == 2 else 'Sum', xs, name)
        self.shape[y] = self.shape[xs[0]]
        self.alias[name] = y

    def layer_Concatenate(self, layer, c, name, ins):
        xs = [self.source(i, fuse_pad=False)[0] for i in ins]
        rank = len(self.shape[xs[0]]) + 1
        if c['axis'] not in (-1, rank - 1):
            fail(f"{name}: concatenation over axis {c['axis']} not supported")
        y = self.node('Concat', xs, name, axis=1)
        self.shape[y] = [sum(self.shape[t][0] for t in xs)] + self.shape[xs[0]][1:]
        self.alias[name] = y

    def _pool(self, c, name, ins, op):
        x, _ = self.source(ins[0], fuse_pad=False)
        C, H, W = self.shape[x]
        kh, kw = pair(c['pool_size'])
        sh, sw = pair(c.get('strides') or c['pool_size'])
        pads, oh, ow = window_pads(c, H, W, kh, kw, sh, sw)
        attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw], pads=pads)
        if op == 'AveragePool':
            attrs['count_include_pad'] = 0          # TensorFlow averages over valid pixels only
        y = self.node(op, [x], name, **attrs)
        self.shape[y] = [C, oh, ow]
        self.alias[name] = y

    def layer_AveragePooling2D(self, layer, c, name, ins):
        self._pool(c, name, ins, 'AveragePool')

    def layer_MaxPooling2D(self, layer, c, name, ins):
        self._pool(c, name, ins, 'MaxPool')

    def _global_pool(self, x, op, name):
        p = self.node(op, [x], name + '/4d')
        y = self.node('Flatten', [p], name, axis=1)
        self.shape[p] = [self.shape[x][0], 1, 1]
        self.shape[y] = [self.shape[x][0]]
        return y

    def layer_GlobalAveragePooling2D(self, layer, c, name, ins):
        x, _ = self.source(ins[0], fuse_pad=False)
        self.alias[name] = self._global_pool(x, 'GlobalAveragePool', name)

    def layer_GlobalMaxPooling2D(self, layer, c, name, ins):
        x, _ = self.source(ins[0], fuse_pad=False)
        self.alias[name] = self._global_pool(x, 'GlobalMaxPool', name)

    def layer_Flatten(self, layer, c, name, ins):
        x, _ = self.source(ins[0], fuse_pad=False)
        s = self.shape[x]
        if len(s) == 3 and (s[1], s[2]) != (1, 1):
            # Keras flattens NHWC; go back to that order first.
            x = self.node('Transpose', [x], name + '/nhwc', perm=[0, 2, 3, 1])
        y = self.node('Flatten', [x], name, axis=1)
        self.shape[y] = [int(np.prod(s))]
        self.alias[name] = y

    def layer_Dropout(self, layer, c, name, ins):
        self.alias[name] = self.source(ins[0], fuse_pad=False)[0]     # identity at inference

    def layer_Dense(self, layer, c, name, ins):
        x, _ = self.source(ins[0], fuse_pad=False)
        if len(self.shape[x]) != 1:
            fail(f'{name}: Dense on a non-flat input not supported')
        k = self.W[name + '/kernel']                                   # in, out
        b = self.W[name + '/bias'] if c.get('use_bias', True) else np.zeros(k.shape[1], np.float32)
        y = self.node('Gemm', [x, self.init(name + '/W', k.astype(np.float32)),
                               self.init(name + '/b', b.astype(np.float32))], name + '/linear')
        self.shape[y] = [k.shape[1]]
        self.alias[name] = self.activation(y, c.get('activation'), name)


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('extract_dir')
    ap.add_argument('out')
    ap.add_argument('--tap', action='append', default=[], metavar='LAYER[:mean|:max]',
                    help='add a globally pooled output of this Keras layer (default pooling: mean)')
    ap.add_argument('--graph-name', default='tfjs_model')
    a = ap.parse_args()

    with open(os.path.join(a.extract_dir, 'model.json')) as f:
        mj = json.load(f)
    with open(os.path.join(a.extract_dir, 'weights.bin'), 'rb') as f:
        raw = f.read()
    topo = mj['modelTopology']
    if 'model_config' not in topo:
        fail('model.json is not a Keras (Layers) model')

    g = Builder(topo, load_weights(mj['weightsManifest'], raw))
    g.convert()

    outputs = []

    def output(tensor, name):
        g.node('Identity', [tensor], name)
        dims = ['N'] + list(g.shape[tensor])
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))

    dense = [l for l in g.layers if l['class_name'] == 'Dense']
    if not dense:
        fail('no Dense layer: cannot tell where the backbone ends')
    output(g.alias[Builder.inbound(dense[0])[0]], 'embedding')
    if len(g.output_layers) != 1:
        fail('models with several outputs are not supported')
    output(g.alias[g.output_layers[0][0]], 'probs')
    for tap in a.tap:
        layer, _, pool = tap.partition(':')
        pool = pool or 'mean'
        if layer in g.pending_pad:
            g.materialise_pad(layer)
        if layer not in g.alias:
            fail(f'--tap: no layer named {layer!r}')
        t = g.alias[layer]
        if len(g.shape[t]) != 3:
            fail(f'--tap: {layer} is not a feature map')
        op, prefix = {'mean': ('GlobalAveragePool', 'gap'), 'max': ('GlobalMaxPool', 'gmp')}[pool]
        output(g._global_pool(t, op, f'{prefix}_{layer}/pool'), f'{prefix}_{layer}')

    H, W, C = g.in_shape
    graph = helper.make_graph(
        g.nodes, a.graph_name,
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, ['N', H, W, C])],
        outputs,
        [numpy_helper.from_array(v, k) for k, v in g.inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                              producer_name='nftlens-tfjs2onnx', producer_version='1')
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)     # includes strict shape inference
    onnx.save(model, a.out)
    params = sum(int(v.size) for v in g.inits.values())
    print(f'tfjs2onnx: {a.out}: {len(g.nodes)} nodes, {params} parameters, outputs '
          + ', '.join(o.name for o in outputs))


if __name__ == '__main__':
    main()
