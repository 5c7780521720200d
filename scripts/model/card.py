#!/usr/bin/python3
"""Model cards (models/*.card.json, format "nftlens-model-card/1"): validation and field access.

    card.py check CARD [MODEL.onnx]   validate the card; with a model, also check that the card's
                                      input/outputs exist in the graph with matching shapes and
                                      that the file's size and SHA-256 match the card
    card.py get CARD KEY...           print fields, one per line (KEY: 'file', 'sha256', 'bytes',
                                      'input.name', 'outputs.names', ...)

The format is documented in docs/model.md; the C++ core parses the same files.
"""
import hashlib
import json
import sys

FORMAT = 'nftlens-model-card/1'
TOP_KEYS = {'format', 'name', 'description', 'file', 'sha256', 'bytes', 'input', 'outputs',
            'license', 'source', 'trained_on'}
INPUT_KEYS = {'name', 'layout', 'width', 'height', 'channels', 'color', 'mean', 'std', 'resize',
              'background'}
OUTPUT_KEYS = {'name', 'shape', 'dim', 'pooling'}


class CardError(Exception):
    pass


def _require(cond, msg):
    if not cond:
        raise CardError(msg)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate(card):
    """Raise CardError unless `card` (a parsed JSON object) is a well-formed model card."""
    _require(isinstance(card, dict), 'card is not a JSON object')
    _require(card.get('format') == FORMAT, f'format must be {FORMAT!r}')
    _require(set(card) == TOP_KEYS, f'keys must be exactly {sorted(TOP_KEYS)}; '
             f'missing {sorted(TOP_KEYS - set(card))}, unknown {sorted(set(card) - TOP_KEYS)}')
    for k in ('name', 'description', 'file', 'license', 'source', 'trained_on'):
        _require(isinstance(card[k], str) and card[k], f'{k} must be a non-empty string')
    _require('/' not in card['file'] and '\\' not in card['file'] and not card['file'].startswith('.'),
             'file must be a plain file name')
    sha = card['sha256']
    _require(isinstance(sha, str) and len(sha) == 64 and all(c in '0123456789abcdef' for c in sha),
             'sha256 must be 64 lower-case hex digits')
    _require(_is_int(card['bytes']) and card['bytes'] > 0, 'bytes must be a positive integer')

    inp = card['input']
    _require(isinstance(inp, dict) and set(inp) == INPUT_KEYS,
             f'input keys must be exactly {sorted(INPUT_KEYS)}')
    _require(isinstance(inp['name'], str) and inp['name'], 'input.name must be a non-empty string')
    _require(inp['layout'] in ('NHWC', 'NCHW'), 'input.layout must be "NHWC" or "NCHW"')
    for k in ('width', 'height'):
        _require(_is_int(inp[k]) and 1 <= inp[k] <= 4096, f'input.{k} must be an integer in 1..4096')
    _require(inp['channels'] == 3, 'input.channels must be 3')
    _require(inp['color'] in ('RGB', 'BGR'), 'input.color must be "RGB" or "BGR"')
    for k in ('mean', 'std'):
        v = inp[k]
        _require(isinstance(v, list) and len(v) == inp['channels'] and all(_is_num(x) for x in v),
                 f'input.{k} must be a list of {inp["channels"]} numbers')
    _require(all(x > 0 for x in inp['std']), 'input.std must be positive')
    _require(inp['resize'] == 'stretch', 'input.resize must be "stretch"')
    bg = inp['background']
    _require(isinstance(bg, list) and len(bg) == 3 and all(_is_int(x) and 0 <= x <= 255 for x in bg),
             'input.background must be 3 integers in 0..255')

    outs = card['outputs']
    _require(isinstance(outs, list) and outs, 'outputs must be a non-empty list')
    names = set()
    for i, o in enumerate(outs):
        _require(isinstance(o, dict) and set(o) == OUTPUT_KEYS,
                 f'outputs[{i}] keys must be exactly {sorted(OUTPUT_KEYS)}')
        _require(isinstance(o['name'], str) and o['name'], f'outputs[{i}].name must be a string')
        _require(o['name'] not in names, f'outputs[{i}].name {o["name"]!r} is repeated')
        names.add(o['name'])
        _require(o['shape'] in ('NC', 'NHWC', 'NCHW'), f'outputs[{i}].shape must be NC, NHWC or NCHW')
        _require(_is_int(o['dim']) and o['dim'] > 0, f'outputs[{i}].dim must be a positive integer')
        if o['shape'] == 'NC':
            _require(o['pooling'] == 'none', f'outputs[{i}]: an NC output takes pooling "none"')
        else:
            _require(o['pooling'] in ('mean', 'max', 'parts'),
                     f'outputs[{i}]: a feature map output takes pooling "mean", "max" or "parts"')
    return card


def load(path):
    with open(path, encoding='utf-8') as f:
        card = json.load(f)
    try:
        return validate(card)
    except CardError as e:
        raise CardError(f'{path}: {e}') from None


def _dims(value_info):
    """Dimensions of a graph input/output: ints for static dims, None for symbolic ones."""
    t = value_info.type.tensor_type
    return [d.dim_value if d.HasField('dim_value') else None for d in t.shape.dim]


def check_model(card, model_path, pinned=True):
    """Check a model file against its card: the graph's input and outputs and, if pinned, the
    file's size and SHA-256. Returns the loaded model; raises CardError."""
    import onnx                                     # only needed here
    with open(model_path, 'rb') as f:
        data = f.read()
    if pinned:
        _require(len(data) == card['bytes'],
                 f'{model_path}: {len(data)} bytes, card says {card["bytes"]}')
        sha = hashlib.sha256(data).hexdigest()
        _require(sha == card['sha256'], f'{model_path}: sha256 {sha}, card says {card["sha256"]}')
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    g = model.graph
    FLOAT = onnx.TensorProto.FLOAT
    inits = {t.name for t in g.initializer}
    inputs = {v.name: v for v in g.input if v.name not in inits}
    inp = card['input']
    _require(list(inputs) == [inp['name']],
             f'{model_path}: graph inputs {list(inputs)}, card expects [{inp["name"]!r}]')
    v = inputs[inp['name']]
    _require(v.type.tensor_type.elem_type == FLOAT, f'{model_path}: input is not float32')
    d = _dims(v)
    want = ([inp['height'], inp['width'], inp['channels']] if inp['layout'] == 'NHWC'
            else [inp['channels'], inp['height'], inp['width']])
    _require(len(d) == 4 and all(a is None or a == b for a, b in zip(d[1:], want)),
             f'{model_path}: input shape {d}, card expects [N, {want}] ({inp["layout"]})')
    outputs = {v.name: v for v in g.output}
    for o in card['outputs']:
        _require(o['name'] in outputs, f'{model_path}: no graph output {o["name"]!r} '
                 f'(has {sorted(outputs)})')
        v = outputs[o['name']]
        _require(v.type.tensor_type.elem_type == FLOAT, f'{model_path}: {o["name"]} is not float32')
        d = _dims(v)
        rank, cax = {'NC': (2, 1), 'NHWC': (4, 3), 'NCHW': (4, 1)}[o['shape']]
        _require(len(d) == rank and d[cax] in (None, o['dim']),
                 f'{model_path}: output {o["name"]} has shape {d}, card says {o["shape"]} '
                 f'with {o["dim"]} channels')
    return model


def get(card, key):
    if key == 'outputs.names':
        return ' '.join(o['name'] for o in card['outputs'])
    v = card
    for part in key.split('.'):
        v = v[part]
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def main(argv):
    if len(argv) >= 2 and argv[0] == 'check' and len(argv) <= 3:
        card = load(argv[1])
        if len(argv) == 3:
            check_model(card, argv[2])
        print(f'card: {argv[1]}: ok' + (f' ({argv[2]})' if len(argv) == 3 else ''))
    elif len(argv) >= 3 and argv[0] == 'get':
        card = load(argv[1])
        for k in argv[2:]:
            print(get(card, k))
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except (CardError, KeyError, OSError, ValueError) as e:
        sys.exit(f'card.py: {e}')
