// Payloads shared by every interop client. test/interop/python/fixtures.py defines the same
// values; keep the two files in step (clients in different languages check each other's data).
'use strict';

// All 256 byte values: catches any codec that treats binary as text.
const BIN_A = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
// Binary that starts with NUL bytes (JSON's binary marker) and has invalid UTF-8.
const BIN_B = Buffer.concat([Buffer.from([0x00, 0x00, 0x01, 0xfe, 0xff, 0x80]), Buffer.from('switchyard')]);

// 1 MiB of non-repeating-looking bytes: large frames on every transport.
const BIG = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => (i * 7 + (i >> 8)) % 251));

const MAX_SAFE = 9007199254740991; // 2^53 - 1: WAMP IDs and integers must survive exactly

const APP_ERROR_URI = 'test.error.app';

function callArgs() {
  return [42, -7, 3.5, 'héllo ✓ 日本', true, null, [1, 'two', { three: 3 }], MAX_SAFE, BIN_A];
}
function callKwargs() {
  return { a: 1, s: 'str', nested: { list: [1, 2, 3], bin: BIN_B }, flag: false };
}
function appErrorArgs() {
  return [1, 'two', BIN_B];
}
function appErrorKwargs() {
  return { reason: 'because', code: 7 };
}
function eventArgs(name) {
  return [name, BIN_A, 'text ✓', 123];
}
function eventKwargs(name) {
  return { from: name, bin: BIN_B, n: MAX_SAFE, list: [1, { x: null }] };
}

function reversed(buf) {
  return Buffer.from(buf).reverse();
}

function isBinary(v) {
  return v instanceof Uint8Array || (typeof v === 'string' && v.length > 0 && v.charCodeAt(0) === 0);
}

// asBytes accepts every way autobahn-js may hand us a binary value: Buffer (msgpack, cbor,
// JSON with our reviver), another Uint8Array, or WAMP's JSON form "\0" + base64 (RawSocket).
function asBytes(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string' && v.charCodeAt(0) === 0) return Buffer.from(v.slice(1), 'base64');
  throw new Error(`not a binary value: ${show(v)}`);
}

function deepEqual(a, b) {
  if (isBinary(a) || isBinary(b)) {
    if (!isBinary(a) || !isBinary(b)) return false;
    return asBytes(a).equals(asBytes(b));
  }
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (!deepEqual(ka, kb)) return false;
  return ka.every((k) => deepEqual(a[k], b[k]));
}

// show renders a value for messages, binary as <bin N bytes: hex...>.
function show(v) {
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v, function (key, value) {
      const orig = this[key];
      if (isBinary(orig)) {
        const b = asBytes(orig);
        const hex = b.subarray(0, 16).toString('hex');
        return `<bin ${b.length} bytes: ${hex}${b.length > 16 ? '...' : ''}>`;
      }
      return value;
    });
  } catch (e) {
    return String(v);
  }
}

// toJSONBinary converts binary values (deeply) into WAMP's JSON form "\0" + base64.
function toJSONBinary(v) {
  if (v instanceof Uint8Array) return '\u0000' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  if (Array.isArray(v)) return v.map(toJSONBinary);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v)) o[k] = toJSONBinary(v[k]);
    return o;
  }
  return v;
}

// JSON.stringify replacer / JSON.parse reviver implementing WAMP's JSON binary convention.
// The replacer looks at this[key] because JSON.stringify calls Buffer#toJSON before it.
function jsonReplacer(key, value) {
  const orig = this[key];
  if (orig instanceof Uint8Array) return '\u0000' + Buffer.from(orig.buffer, orig.byteOffset, orig.byteLength).toString('base64');
  return value;
}
function jsonReviver(key, value) {
  if (typeof value === 'string' && value.length > 0 && value.charCodeAt(0) === 0) {
    return Buffer.from(value.slice(1), 'base64');
  }
  return value;
}

module.exports = {
  BIN_A,
  BIN_B,
  BIG,
  MAX_SAFE,
  APP_ERROR_URI,
  callArgs,
  callKwargs,
  appErrorArgs,
  appErrorKwargs,
  eventArgs,
  eventKwargs,
  reversed,
  asBytes,
  deepEqual,
  show,
  toJSONBinary,
  jsonReplacer,
  jsonReviver,
};
