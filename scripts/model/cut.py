#!/usr/bin/python3
"""Cut the model files described by model cards out of a full converted graph.

    cut.py FULL.onnx OUT_DIR CARD...

For each card: onnx.utils.extract_model(FULL, OUT_DIR/<card file>, [<card input name>],
[<card output names>]), then check that the cut graph has the card's input and outputs with the
card's shapes. Size and SHA-256 are not checked here (scripts/make-model does that, so that new
values can be pinned). extract_model keeps the graph's node and initialiser order and adds the
shape-inferred value_info, so the result is deterministic for a given onnx version.
"""
import os
import sys

import onnx.utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import card as cards  # noqa: E402


def any_size(path, card):
    """A card with a "parts" map: the builder also runs the model at twice the card's size (zoomed
    parts), so the input's height and width (and every map's) become symbolic. Convolutions and
    their explicit pads do not depend on the size; shape-inferred value_info would, so it goes."""
    m = onnx.load(path)
    hw = (1, 2) if card['input']['layout'] == 'NHWC' else (2, 3)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    for k, name in zip(hw, ('height', 'width')):
        dims[k].ClearField('dim_value')
        dims[k].dim_param = name
    for o in m.graph.output:
        d = o.type.tensor_type.shape.dim
        if len(d) == 4:
            for k, name in zip((1, 2) if any(x['name'] == o.name and x['shape'] == 'NHWC' for x in card['outputs']) else (2, 3),
                               ('map_height', 'map_width')):
                d[k].ClearField('dim_value')
                d[k].dim_param = name
    del m.graph.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    full, out_dir, card_paths = argv[0], argv[1], argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    for path in card_paths:
        card = cards.load(path)
        dst = os.path.join(out_dir, card['file'])
        onnx.utils.extract_model(full, dst, [card['input']['name']],
                                 [o['name'] for o in card['outputs']], check_model=True)
        if any(o['pooling'] == 'parts' for o in card['outputs']):
            any_size(dst, card)
        cards.check_model(card, dst, pinned=False)
        print(f'cut: {card["file"]}: {os.path.getsize(dst)} bytes, outputs '
              + ', '.join(o['name'] for o in card['outputs']))


if __name__ == '__main__':
    try:
        main(sys.argv[1:])
    except cards.CardError as e:
        sys.exit(f'cut.py: {e}')
