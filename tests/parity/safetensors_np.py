"""safetensors_np.py -- safetensors files read and written with json + struct + numpy only,
for the test scripts (tests/parity/parity.py, tests/parity/parity_seq2seq.py,
tests/dist/compare_checkpoints.py)."""
import json
import struct

import numpy as np

NP = {'F32': '<f4', 'F64': '<f8', 'U64': '<u8', 'I64': '<i8', 'I32': '<i4', 'U8': 'u1'}


def st_load(path):
    """Reads a safetensors file: ({name: ndarray}, metadata)."""
    with open(path, 'rb') as f:
        b = f.read()
    n, = struct.unpack('<Q', b[:8])
    header = json.loads(b[8:8 + n].decode('utf-8'))
    meta = header.pop('__metadata__', {})
    data = memoryview(b)[8 + n:]
    out = {}
    for name, e in header.items():
        begin, end = e['data_offsets']
        out[name] = np.frombuffer(data[begin:end], dtype=NP[e['dtype']]).reshape(e['shape'])
    return out, meta


def st_save(path, tensors, meta):
    """Writes {name: ndarray (float64)} and string metadata as safetensors."""
    header, blobs, off = {'__metadata__': meta}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype='<f8')
        raw = a.tobytes()
        header[name] = {'dtype': 'F64', 'shape': list(a.shape), 'data_offsets': [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
