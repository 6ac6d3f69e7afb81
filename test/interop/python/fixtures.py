"""Payloads shared by every interop client.

test/interop/js/fixtures.js defines the same values; keep the two files in step (clients in
different languages check each other's data).
"""

# All 256 byte values: catches any codec that treats binary as text.
BIN_A = bytes(range(256))
# Binary that starts with NUL bytes (JSON's binary marker) and has invalid UTF-8.
BIN_B = bytes([0x00, 0x00, 0x01, 0xFE, 0xFF, 0x80]) + b"switchyard"

# 1 MiB of non-repeating-looking bytes: large frames on every transport.
BIG = bytes((i * 7 + (i >> 8)) % 251 for i in range(1 << 20))

MAX_SAFE = 9007199254740991  # 2^53 - 1: WAMP IDs and integers must survive exactly

APP_ERROR_URI = "test.error.app"


def call_args():
    return [42, -7, 3.5, "h\u00e9llo \u2713 \u65e5\u672c", True, None, [1, "two", {"three": 3}], MAX_SAFE, BIN_A]


def call_kwargs():
    return {"a": 1, "s": "str", "nested": {"list": [1, 2, 3], "bin": BIN_B}, "flag": False}


def app_error_args():
    return [1, "two", BIN_B]


def app_error_kwargs():
    return {"reason": "because", "code": 7}


def event_args(name):
    return [name, BIN_A, "text \u2713", 123]


def event_kwargs(name):
    return {"from": name, "bin": BIN_B, "n": MAX_SAFE, "list": [1, {"x": None}]}


def reversed_bytes(b):
    return bytes(reversed(b))


def normalize(v):
    """Turns tuples into lists and bytearray/memoryview into bytes, deeply."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, (list, tuple)):
        return [normalize(x) for x in v]
    if isinstance(v, dict):
        return {k: normalize(x) for k, x in v.items()}
    return v


def deep_equal(a, b):
    """Strict equality: bool is not int, int is not float, bytes is not str."""
    a, b = normalize(a), normalize(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(deep_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return sorted(a) == sorted(b) and all(deep_equal(a[k], b[k]) for k in a)
    return a == b


def show(v):
    """Renders a value for messages, binary as <bin N bytes: hex...>."""
    v = normalize(v)
    if isinstance(v, bytes):
        return "<bin %d bytes: %s%s>" % (len(v), v[:16].hex(), "..." if len(v) > 16 else "")
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%r: %s" % (k, show(x)) for k, x in v.items()) + "}"
    return repr(v)
