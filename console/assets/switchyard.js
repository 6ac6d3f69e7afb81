// switchyard.js: a small browser WAMP v2 client, served by the Switchyard
// router at /switchyard.js. It is an ES module with no dependencies:
//
//   import { connect, auth } from "http://127.0.0.1:8080/switchyard.js";
//   const session = await connect({ url: "ws://127.0.0.1:8080/", realm: "realm1" });
//   await session.subscribe("com.example.news", (args, kwargs, details) => { ... });
//   await session.publish("com.example.news", ["hello"], {}, { acknowledge: true });
//   await session.register("com.example.add", (args) => args[0] + args[1]);
//   const res = await session.call("com.example.add", [2, 3]); // res.args: [5]
//
// Serializers: JSON (subprotocol wamp.2.json), with WAMP's binary rule
// (a string starting with "\0" carries base64; it becomes a Uint8Array),
// and CBOR (wamp.2.cbor; binary values are byte strings, integers past
// 2^53 are BigInts). Pass serializer: "cbor" to connect.
// Authentication: anonymous, ticket, wampcra (plain and salted, HMAC-SHA256
// and PBKDF2 through WebCrypto) and cryptosign (Ed25519 through WebCrypto,
// where the browser has it). WebCrypto exists only in secure contexts:
// https pages, or pages of localhost / 127.0.0.1.

const HELLO = 1, WELCOME = 2, ABORT = 3, CHALLENGE = 4, AUTHENTICATE = 5, GOODBYE = 6, ERROR = 8,
  PUBLISH = 16, PUBLISHED = 17, SUBSCRIBE = 32, SUBSCRIBED = 33, UNSUBSCRIBE = 34, UNSUBSCRIBED = 35,
  EVENT = 36, CALL = 48, CANCEL = 49, RESULT = 50, REGISTER = 64, REGISTERED = 65, UNREGISTER = 66,
  UNREGISTERED = 67, INVOCATION = 68, INTERRUPT = 69, YIELD = 70;

/** Names of the WAMP message types, by code (for logs). */
export const messageNames = Object.freeze({
  [HELLO]: "HELLO", [WELCOME]: "WELCOME", [ABORT]: "ABORT", [CHALLENGE]: "CHALLENGE",
  [AUTHENTICATE]: "AUTHENTICATE", [GOODBYE]: "GOODBYE", [ERROR]: "ERROR", [PUBLISH]: "PUBLISH",
  [PUBLISHED]: "PUBLISHED", [SUBSCRIBE]: "SUBSCRIBE", [SUBSCRIBED]: "SUBSCRIBED",
  [UNSUBSCRIBE]: "UNSUBSCRIBE", [UNSUBSCRIBED]: "UNSUBSCRIBED", [EVENT]: "EVENT", [CALL]: "CALL",
  [CANCEL]: "CANCEL", [RESULT]: "RESULT", [REGISTER]: "REGISTER", [REGISTERED]: "REGISTERED",
  [UNREGISTER]: "UNREGISTER", [UNREGISTERED]: "UNREGISTERED", [INVOCATION]: "INVOCATION",
  [INTERRUPT]: "INTERRUPT", [YIELD]: "YIELD",
});

/** A WAMP error: an ERROR or ABORT from the router, or a local failure. */
export class WampError extends Error {
  constructor(uri, args = [], kwargs = {}, details = {}) {
    const text = Array.isArray(args) && typeof args[0] === "string" ? ": " + args[0] : "";
    super(uri + text);
    this.name = "WampError";
    this.uri = uri;
    this.args = args;
    this.kwargs = kwargs;
    this.details = details;
  }
}

/** What a procedure may return to answer with several values or kwargs. */
export class Result {
  constructor(args = [], kwargs = {}) {
    this.args = args;
    this.kwargs = kwargs;
  }
}

// ------------------------------------------------------------ serializer

const utf8 = (s) => new TextEncoder().encode(s);

function bytesToBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function base64ToBytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The JSON serializer, with WAMP's "\0"+base64 rule for binary values. */
export const json = Object.freeze({
  name: "json",
  subprotocol: "wamp.2.json",
  binary: false,
  encode(msg) {
    return JSON.stringify(msg, (_k, v) => {
      if (v instanceof ArrayBuffer) v = new Uint8Array(v);
      if (typeof v === "bigint") {
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new Error("json: " + v + " does not fit a JSON number exactly: use CBOR");
        }
        return Number(v);
      }
      return v instanceof Uint8Array ? "\0" + bytesToBase64(v) : v;
    });
  },
  decode(text) {
    if (typeof text !== "string") throw new Error("json: binary frame on a text subprotocol");
    const msg = JSON.parse(text, (_k, v) => (typeof v === "string" && v.charCodeAt(0) === 0 ? base64ToBytes(v.slice(1)) : v));
    if (!Array.isArray(msg) || msg.length === 0 || !Number.isInteger(msg[0])) {
      throw new Error("json: a WAMP message is a non-empty array starting with its type");
    }
    return msg;
  },
});

// CBOR (RFC 8949), the subset WAMP needs: integers (beyond 2^53 as BigInt),
// floats (half, single, double), byte and text strings, arrays, maps,
// booleans and null, definite and indefinite lengths. Tags are read
// through (their content is kept); maps take string keys (others are
// turned into strings). Decoding checks every length against the bytes
// left, bounds nesting, and refuses trailing bytes.
const CBOR_MAX_DEPTH = 512;

class CborWriter {
  constructor() {
    this.buf = new Uint8Array(256);
    this.len = 0;
  }

  ensure(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }

  byte(b) {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  bytes(b) {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  head(major, n) {
    // n is a non-negative Number (safe integer) or BigInt.
    const m = major << 5;
    if (typeof n === "bigint") {
      if (n < 0x100000000n) {
        n = Number(n);
      } else {
        this.byte(m | 27);
        this.ensure(8);
        new DataView(this.buf.buffer).setBigUint64(this.len, n);
        this.len += 8;
        return;
      }
    }
    if (n < 24) {
      this.byte(m | n);
    } else if (n < 0x100) {
      this.byte(m | 24);
      this.byte(n);
    } else if (n < 0x10000) {
      this.byte(m | 25);
      this.byte(n >> 8);
      this.byte(n & 0xff);
    } else if (n < 0x100000000) {
      this.byte(m | 26);
      this.ensure(4);
      new DataView(this.buf.buffer).setUint32(this.len, n);
      this.len += 4;
    } else {
      this.byte(m | 27);
      this.ensure(8);
      const dv = new DataView(this.buf.buffer);
      dv.setUint32(this.len, Math.floor(n / 0x100000000));
      dv.setUint32(this.len + 4, n % 0x100000000);
      this.len += 8;
    }
  }

  value(v, depth) {
    if (depth > CBOR_MAX_DEPTH) throw new Error("cbor: nesting too deep");
    if (v === null || v === undefined) return this.byte(0xf6);
    switch (typeof v) {
      case "boolean":
        return this.byte(v ? 0xf5 : 0xf4);
      case "number":
        if (Number.isSafeInteger(v)) return v >= 0 ? this.head(0, v) : this.head(1, -1 - v);
        this.byte(0xfb);
        this.ensure(8);
        new DataView(this.buf.buffer).setFloat64(this.len, v);
        this.len += 8;
        return;
      case "bigint":
        if (v >= 0n) {
          if (v >= 1n << 64n) throw new Error("cbor: integer out of range");
          return this.head(0, v);
        }
        if (-1n - v >= 1n << 64n) throw new Error("cbor: integer out of range");
        return this.head(1, -1n - v);
      case "string": {
        const b = utf8(v);
        this.head(3, b.length);
        return this.bytes(b);
      }
      default:
    }
    if (v instanceof ArrayBuffer) v = new Uint8Array(v);
    if (v instanceof Uint8Array) {
      this.head(2, v.length);
      return this.bytes(v);
    }
    if (Array.isArray(v)) {
      this.head(4, v.length);
      for (const x of v) this.value(x, depth + 1);
      return;
    }
    if (typeof v === "object") {
      const keys = Object.keys(v).filter((k) => v[k] !== undefined);
      this.head(5, keys.length);
      for (const k of keys) {
        this.value(k, depth + 1);
        this.value(v[k], depth + 1);
      }
      return;
    }
    throw new Error("cbor: cannot encode a " + typeof v);
  }
}

const cborText = new TextDecoder("utf-8", { fatal: true });

class CborReader {
  constructor(bytes) {
    this.b = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  need(n) {
    if (n > this.b.length - this.pos) throw new Error("cbor: truncated");
  }

  u8() {
    this.need(1);
    return this.b[this.pos++];
  }

  // arg reads the argument of a head with additional info ai; -1 means
  // indefinite length.
  arg(ai) {
    if (ai < 24) return ai;
    let v;
    switch (ai) {
      case 24: return this.u8();
      case 25: this.need(2); v = this.dv.getUint16(this.pos); this.pos += 2; return v;
      case 26: this.need(4); v = this.dv.getUint32(this.pos); this.pos += 4; return v;
      case 27: {
        this.need(8);
        const big = this.dv.getBigUint64(this.pos);
        this.pos += 8;
        return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
      case 31: return -1;
      default: throw new Error("cbor: reserved additional info " + ai);
    }
  }

  length(ai) {
    const n = this.arg(ai);
    if (typeof n === "bigint") throw new Error("cbor: length out of range");
    return n;
  }

  chunks(major) {
    // An indefinite-length byte or text string: definite chunks of the same type, then 0xff.
    const parts = [];
    let total = 0;
    for (;;) {
      const ib = this.u8();
      if (ib === 0xff) break;
      if (ib >> 5 !== major || (ib & 31) === 31) throw new Error("cbor: bad chunk in an indefinite string");
      const n = this.length(ib & 31);
      this.need(n);
      parts.push(this.b.subarray(this.pos, this.pos + n));
      this.pos += n;
      total += n;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }

  value(depth) {
    if (depth > CBOR_MAX_DEPTH) throw new Error("cbor: nesting too deep");
    const ib = this.u8();
    const major = ib >> 5;
    const ai = ib & 31;
    switch (major) {
      case 0: {
        const n = this.arg(ai);
        if (n === -1) throw new Error("cbor: indefinite integer");
        return n;
      }
      case 1: {
        const n = this.arg(ai);
        if (n === -1) throw new Error("cbor: indefinite integer");
        if (typeof n === "bigint") return -1n - n;
        return n < Number.MAX_SAFE_INTEGER ? -1 - n : -1n - BigInt(n);
      }
      case 2:
      case 3: {
        const n = this.length(ai);
        let b;
        if (n === -1) {
          b = this.chunks(major);
        } else {
          this.need(n);
          b = this.b.slice(this.pos, this.pos + n);
          this.pos += n;
        }
        if (major === 2) return b;
        try {
          return cborText.decode(b);
        } catch (_) {
          throw new Error("cbor: invalid UTF-8 in a text string");
        }
      }
      case 4: {
        const n = this.length(ai);
        const out = [];
        if (n === -1) {
          while (this.peekBreak() === false) out.push(this.value(depth + 1));
          return out;
        }
        this.need(n); // each element takes at least one byte
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
        return out;
      }
      case 5: {
        const n = this.length(ai);
        const out = {};
        const entry = () => {
          const k = this.value(depth + 1);
          const key = typeof k === "string" ? k : String(k);
          const v = this.value(depth + 1);
          if (key === "__proto__") Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
          else out[key] = v;
        };
        if (n === -1) {
          while (this.peekBreak() === false) entry();
          return out;
        }
        this.need(2 * n);
        for (let i = 0; i < n; i++) entry();
        return out;
      }
      case 6:
        if (ai === 31) throw new Error("cbor: indefinite tag");
        this.arg(ai);
        return this.value(depth + 1);
      default: // 7
        switch (ai) {
          case 20: return false;
          case 21: return true;
          case 22:
          case 23: return null;
          case 24: this.u8(); return null; // a simple value: no meaning in WAMP
          case 25: {
            this.need(2);
            const h = this.dv.getUint16(this.pos);
            this.pos += 2;
            return halfToNumber(h);
          }
          case 26: { this.need(4); const f = this.dv.getFloat32(this.pos); this.pos += 4; return f; }
          case 27: { this.need(8); const f = this.dv.getFloat64(this.pos); this.pos += 8; return f; }
          case 31: throw new Error("cbor: unexpected break");
          default:
            if (ai < 20) return null; // unassigned simple values
            throw new Error("cbor: reserved simple value " + ai);
        }
    }
  }

  peekBreak() {
    this.need(1);
    if (this.b[this.pos] === 0xff) {
      this.pos++;
      return true;
    }
    return false;
  }
}

function halfToNumber(h) {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** The CBOR serializer (subprotocol wamp.2.cbor): binary frames. */
export const cbor = Object.freeze({
  name: "cbor",
  subprotocol: "wamp.2.cbor",
  binary: true,
  encode(msg) {
    const w = new CborWriter();
    w.value(msg, 0);
    return w.buf.slice(0, w.len);
  },
  decode(data) {
    if (typeof data === "string") throw new Error("cbor: text frame on a binary subprotocol");
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    const r = new CborReader(bytes);
    const msg = r.value(0);
    if (r.pos !== bytes.length) throw new Error("cbor: " + (bytes.length - r.pos) + " bytes after the message");
    if (!Array.isArray(msg) || msg.length === 0 || !Number.isInteger(msg[0])) {
      throw new Error("cbor: a WAMP message is a non-empty array starting with its type");
    }
    return msg;
  },
  /** decodeValue decodes one complete CBOR item (for tests and tools). */
  decodeValue(bytes) {
    const r = new CborReader(bytes);
    const v = r.value(0);
    if (r.pos !== bytes.length) throw new Error("cbor: " + (bytes.length - r.pos) + " bytes after the item");
    return v;
  },
  /** encodeValue encodes one value. */
  encodeValue(v) {
    const w = new CborWriter();
    w.value(v, 0);
    return w.buf.slice(0, w.len);
  },
});

const serializers = { json, cbor };

// ------------------------------------------------------------ authentication


function subtle() {
  if (!globalThis.crypto || !globalThis.crypto.subtle) {
    throw new WampError("switchyard.error.no_webcrypto",
      ["WebCrypto is unavailable: open the page over https or from localhost / 127.0.0.1"]);
  }
  return globalThis.crypto.subtle;
}

function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) {
    throw new Error("not a hex string");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function base64urlToBytes(s) {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
  return base64ToBytes(b64 + "===".slice((b64.length + 3) % 4));
}

/**
 * Authentication helpers. Each returns {authmethods, authid, authextra,
 * onchallenge} (a Promise for cryptosign) to spread into connect's options.
 */
export const auth = Object.freeze({
  anonymous() {
    return { authmethods: ["anonymous"] };
  },

  ticket(authid, ticket) {
    return {
      authmethods: ["ticket"], authid,
      onchallenge: (method) => {
        if (method !== "ticket") throw new Error("ticket auth got a " + method + " challenge");
        return ticket;
      },
    };
  },

  wampcra(authid, secret) {
    return { authmethods: ["wampcra"], authid, onchallenge: (method, extra) => wampcraSign(secret, extra) };
  },

  /** seedHex: the 32-byte Ed25519 private seed, in hex. */
  async cryptosign(authid, seedHex) {
    const seed = hexToBytes(seedHex);
    if (seed.length !== 32) throw new Error("a cryptosign private key is 32 bytes (64 hex digits)");
    // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410).
    const pkcs8 = new Uint8Array(48);
    pkcs8.set(hexToBytes("302e020100300506032b657004220420"));
    pkcs8.set(seed, 16);
    let key;
    try {
      key = await subtle().importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
    } catch (e) {
      if (e instanceof WampError) throw e;
      throw new WampError("switchyard.error.no_ed25519", ["this browser's WebCrypto has no Ed25519: " + e.message]);
    }
    const jwk = await subtle().exportKey("jwk", key);
    const pubkey = bytesToHex(base64urlToBytes(jwk.x));
    const out = {
      authmethods: ["cryptosign"],
      authextra: { pubkey },
      onchallenge: async (method, extra) => {
        if (method !== "cryptosign") throw new Error("cryptosign auth got a " + method + " challenge");
        const challenge = hexToBytes(extra.challenge);
        const sig = new Uint8Array(await subtle().sign({ name: "Ed25519" }, key, challenge));
        return bytesToHex(sig) + extra.challenge;
      },
      pubkey,
    };
    if (authid) out.authid = authid;
    return out;
  },
});

/**
 * The WAMP-CRA signature of a challenge: base64(HMAC-SHA256(key, challenge)),
 * where key is the secret or, when the router sends salt parameters, the
 * base64 text of PBKDF2-HMAC-SHA256(secret, salt, iterations, keylen).
 */
export async function wampcraSign(secret, extra) {
  let key = utf8(secret);
  if (typeof extra.salt === "string" && extra.salt !== "") {
    const base = await subtle().importKey("raw", key, "PBKDF2", false, ["deriveBits"]);
    const bits = await subtle().deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt: utf8(extra.salt), iterations: extra.iterations || 1000 },
      base, 8 * (extra.keylen || 32));
    key = utf8(bytesToBase64(new Uint8Array(bits)));
  }
  const hmac = await subtle().importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = await subtle().sign("HMAC", hmac, utf8(extra.challenge));
  return bytesToBase64(new Uint8Array(sig));
}

// ------------------------------------------------------------ session

const ROLES = {
  caller: { features: { progressive_call_results: true, call_canceling: true, call_timeout: true, caller_identification: true } },
  callee: { features: { progressive_call_results: true, call_canceling: true, caller_identification: true, pattern_based_registration: true, shared_registration: true } },
  publisher: { features: { publisher_exclusion: true, publisher_identification: true, subscriber_blackwhite_listing: true } },
  subscriber: { features: { pattern_based_subscription: true, publisher_identification: true } },
};

/**
 * connect opens a WebSocket and joins a realm. Options: url, realm,
 * serializer ("json"), authmethods, authid, authextra, onchallenge(method,
 * extra) → signature (or a Promise of it), onmessage(direction, msg) to
 * watch every message ("out" or "in"), onclose({reason, code, wasClean}).
 * It resolves with a Session once WELCOME arrives, and rejects with a
 * WampError on ABORT or when the connection fails.
 */
export function connect(opts) {
  const ser = serializers[opts.serializer || "json"];
  if (!ser) return Promise.reject(new Error("unknown serializer " + opts.serializer));
  return new Promise((resolve, reject) => {
    let ws;
    try {
      ws = new WebSocket(opts.url, [ser.subprotocol]);
      ws.binaryType = "arraybuffer";
    } catch (e) {
      reject(new WampError("switchyard.error.connection_failed", [String(e.message || e)]));
      return;
    }
    const s = new Session(ws, ser, opts);
    s._joined = { resolve, reject };
  });
}

/** Session is one joined WAMP session. Its methods return Promises. */
export class Session {
  constructor(ws, ser, opts) {
    this._ws = ws;
    this._ser = ser;
    this._opts = opts;
    this._onmessage = opts.onmessage || null;
    this.onclose = opts.onclose || null;
    this.id = 0;
    this.realm = opts.realm;
    this.details = {};
    this.authid = "";
    this.authrole = "";
    this.authmethod = "";
    this.isOpen = false;
    this._nextId = 1;
    this._requests = new Map(); // request id → {resolve, reject, type, ...}
    this._subs = new Map(); // subscription id → Set of handlers
    this._regs = new Map(); // registration id → handler
    this._invocations = new Map(); // invocation id → AbortController
    this._goodbyeSent = false;
    this._closed = false;
    this.closed = new Promise((resolve) => { this._closedResolve = resolve; });

    ws.onopen = () => {
      const details = { roles: ROLES, agent: "switchyard.js" };
      if (opts.authmethods) details.authmethods = opts.authmethods;
      if (opts.authid) details.authid = opts.authid;
      if (opts.authextra) details.authextra = opts.authextra;
      this._send([HELLO, opts.realm, details]);
    };
    ws.onmessage = (ev) => this._receive(ev.data);
    ws.onerror = () => {}; // onclose follows with the code
    ws.onclose = (ev) => this._onTransportClose(ev);
  }

  _send(msg) {
    if (this._ws.readyState !== WebSocket.OPEN) {
      throw new WampError("wamp.error.canceled", ["the connection is closed"]);
    }
    if (this._onmessage) this._onmessage("out", msg);
    this._ws.send(this._ser.encode(msg));
  }

  _fail(reason, text) {
    // A protocol violation by the router: say so and drop the connection.
    try {
      this._send([ABORT, { message: text }, reason]);
    } catch (_) { /* already closed */ }
    this._ws.close(1000);
  }

  async _receive(data) {
    let msg;
    try {
      msg = this._ser.decode(data);
    } catch (e) {
      this._fail("wamp.error.protocol_violation", "undecodable message: " + e.message);
      return;
    }
    if (this._onmessage) this._onmessage("in", msg);
    try {
      await this._dispatch(msg);
    } catch (e) {
      this._fail("wamp.error.protocol_violation", "bad message: " + e.message);
    }
  }

  async _dispatch(msg) {
    const type = msg[0];
    if (!this.isOpen) {
      switch (type) {
        case WELCOME:
          this.id = msg[1];
          this.details = msg[2] || {};
          this.authid = this.details.authid || "";
          this.authrole = this.details.authrole || "";
          this.authmethod = this.details.authmethod || "";
          this.isOpen = true;
          this._joined.resolve(this);
          return;
        case ABORT:
          this._abort = new WampError(msg[2], msg[1] && msg[1].message ? [msg[1].message] : [], {}, msg[1]);
          this._ws.close(1000);
          return;
        case CHALLENGE: {
          let signature;
          try {
            if (!this._opts.onchallenge) throw new Error("no onchallenge for a " + msg[1] + " challenge");
            signature = await this._opts.onchallenge(msg[1], msg[2] || {});
          } catch (e) {
            this._abort = e instanceof WampError ? e : new WampError("switchyard.error.authentication_failed", [String(e.message || e)]);
            this._send([ABORT, { message: this._abort.message }, "wamp.error.cannot_authenticate"]);
            this._ws.close(1000);
            return;
          }
          this._send([AUTHENTICATE, signature, {}]);
          return;
        }
        default:
          throw new Error(messageNames[type] + " before WELCOME");
      }
    }
    switch (type) {
      case GOODBYE:
        this._goodbyeReason = msg[2];
        if (!this._goodbyeSent) {
          this._goodbyeSent = true;
          this._send([GOODBYE, {}, "wamp.close.goodbye_and_out"]);
        }
        this._ws.close(1000);
        return;
      case ABORT:
        this._goodbyeReason = msg[2];
        this._ws.close(1000);
        return;
      case EVENT: {
        const handlers = this._subs.get(msg[1]);
        if (!handlers) return; // an event racing our UNSUBSCRIBE
        const details = msg[3] || {};
        for (const h of handlers) {
          try {
            h(msg[4] || [], msg[5] || {}, details);
          } catch (_) { /* one bad handler must not stop the others */ }
        }
        return;
      }
      case INVOCATION:
        this._invoke(msg);
        return;
      case INTERRUPT: {
        const ctl = this._invocations.get(msg[1]);
        if (ctl) ctl.abort(new WampError("wamp.error.canceled", ["canceled by the caller"]));
        return;
      }
      case ERROR:
        this._settle(msg[2], null, new WampError(msg[4], msg[5] || [], msg[6] || {}, msg[3] || {}));
        return;
      case RESULT: {
        const req = this._requests.get(msg[1]);
        if (!req) return;
        const res = { args: msg[3] || [], kwargs: msg[4] || {}, details: msg[2] || {} };
        if (res.details.progress) {
          if (req.onProgress) req.onProgress(res);
          return;
        }
        this._settle(msg[1], res);
        return;
      }
      case PUBLISHED:
        this._settle(msg[1], { publication: msg[2] });
        return;
      case SUBSCRIBED: {
        const req = this._requests.get(msg[1]);
        if (!req) return;
        const id = msg[2];
        if (!this._subs.has(id)) this._subs.set(id, new Set());
        this._subs.get(id).add(req.handler);
        this._settle(msg[1], new Subscription(this, id, req.topic, req.handler));
        return;
      }
      case UNSUBSCRIBED:
      case UNREGISTERED:
        this._settle(msg[1], true);
        return;
      case REGISTERED: {
        const req = this._requests.get(msg[1]);
        if (!req) return;
        this._regs.set(msg[2], req.handler);
        this._settle(msg[1], new Registration(this, msg[2], req.procedure));
        return;
      }
      default:
        throw new Error("unexpected " + (messageNames[type] || "message type " + type));
    }
  }

  _settle(id, value, err) {
    const req = this._requests.get(id);
    if (!req) return;
    this._requests.delete(id);
    if (err) req.reject(err);
    else req.resolve(value);
  }

  _request(build, extra = {}) {
    if (!this.isOpen) return Promise.reject(new WampError("wamp.error.canceled", ["the session is closed"]));
    const id = this._nextId++;
    return new Promise((resolve, reject) => {
      this._requests.set(id, { resolve, reject, ...extra });
      try {
        this._send(build(id));
      } catch (e) {
        this._requests.delete(id);
        reject(e);
      }
    });
  }

  /**
   * subscribe calls handler(args, kwargs, details) for each event. Options:
   * {match: "prefix" | "wildcard"} and any other SUBSCRIBE option.
   */
  subscribe(topic, handler, options = {}) {
    return this._request((id) => [SUBSCRIBE, id, options, topic], { topic, handler });
  }

  /**
   * publish sends an event. With options.acknowledge it resolves with
   * {publication} once the router accepted it (or rejects with its error);
   * without, it resolves once sent. exclude_me defaults to true (WAMP).
   */
  publish(topic, args = [], kwargs = {}, options = {}) {
    const build = (id) => {
      const m = [PUBLISH, id, options, topic];
      if (args.length || Object.keys(kwargs).length) m.push(args);
      if (Object.keys(kwargs).length) m.push(kwargs);
      return m;
    };
    if (options.acknowledge) return this._request(build);
    if (!this.isOpen) return Promise.reject(new WampError("wamp.error.canceled", ["the session is closed"]));
    try {
      this._send(build(this._nextId++));
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve({});
  }

  /**
   * register serves procedure with handler(args, kwargs, details): it
   * returns a value (sent as the single argument), a Result, or a Promise
   * of either, or throws a WampError. details.progress(args, kwargs) sends
   * a progressive result when the caller asked for them; details.signal is
   * an AbortSignal that fires when the caller cancels.
   */
  register(procedure, handler, options = {}) {
    return this._request((id) => [REGISTER, id, options, procedure], { procedure, handler });
  }

  async _invoke(msg) {
    const [, req, reg, details = {}, args = [], kwargs = {}] = msg;
    const handler = this._regs.get(reg);
    if (!handler) {
      this._send([ERROR, INVOCATION, req, {}, "wamp.error.no_such_registration"]);
      return;
    }
    const ctl = new AbortController();
    this._invocations.set(req, ctl);
    const d = Object.assign({}, details, { signal: ctl.signal });
    if (details.receive_progress) {
      d.progress = (pargs = [], pkwargs = {}) => {
        if (this._invocations.has(req)) this._send([YIELD, req, { progress: true }, pargs, pkwargs]);
      };
    }
    const canceled = new Promise((_, rej) => ctl.signal.addEventListener("abort", () => rej(ctl.signal.reason)));
    canceled.catch(() => {});
    try {
      let out = await Promise.race([Promise.resolve().then(() => handler(args, kwargs, d)), canceled]);
      if (!this._invocations.has(req)) return;
      if (!(out instanceof Result)) out = new Result(out === undefined ? [] : [out]);
      this._send([YIELD, req, {}, out.args, out.kwargs]);
    } catch (e) {
      if (!this._invocations.has(req) || !this.isOpen) return;
      if (e instanceof WampError) this._send([ERROR, INVOCATION, req, {}, e.uri, e.args, e.kwargs]);
      else this._send([ERROR, INVOCATION, req, {}, "wamp.error.runtime_error", [String((e && e.message) || e)]]);
    } finally {
      this._invocations.delete(req);
    }
  }

  /**
   * call calls procedure. Options: timeout (ms, enforced by the router),
   * onProgress(result) (asks for progressive results), signal (an
   * AbortSignal that cancels), cancelMode ("kill", "killnowait", "skip")
   * and any other CALL option. It resolves with {args, kwargs, details}.
   * The returned Promise also has cancel(mode).
   */
  call(procedure, args = [], kwargs = {}, options = {}) {
    const { onProgress, signal, cancelMode, ...wire } = options;
    if (onProgress) wire.receive_progress = true;
    let requestId = 0;
    const p = this._request((id) => {
      requestId = id;
      const m = [CALL, id, wire, procedure];
      if (args.length || Object.keys(kwargs).length) m.push(args);
      if (Object.keys(kwargs).length) m.push(kwargs);
      return m;
    }, { onProgress });
    p.cancel = (mode = cancelMode || "kill") => {
      if (requestId && this._requests.has(requestId) && this.isOpen) {
        this._send([CANCEL, requestId, { mode }]);
      }
    };
    if (signal) {
      if (signal.aborted) p.cancel();
      else signal.addEventListener("abort", () => p.cancel(), { once: true });
    }
    return p;
  }

  /** close says GOODBYE and resolves when the connection has closed. */
  close(reason = "wamp.close.close_realm") {
    if (this.isOpen && !this._goodbyeSent) {
      this._goodbyeSent = true;
      try {
        this._send([GOODBYE, {}, reason]);
      } catch (_) { /* closed meanwhile */ }
      // The router answers GOODBYE, then we close; don't wait forever.
      setTimeout(() => this._ws.close(1000), 2000);
    } else {
      this._ws.close(1000);
    }
    return this.closed;
  }

  _onTransportClose(ev) {
    if (this._closed) return;
    this._closed = true;
    const wasOpen = this.isOpen;
    this.isOpen = false;
    const info = { reason: this._goodbyeReason || "", code: ev.code, wasClean: ev.wasClean };
    if (!wasOpen) {
      const err = this._abort || new WampError("switchyard.error.connection_failed",
        ["the WebSocket closed before the session was joined (code " + ev.code + ")"]);
      this._joined.reject(err);
    }
    const gone = new WampError("wamp.error.canceled", ["the session closed"]);
    for (const req of this._requests.values()) req.reject(gone);
    this._requests.clear();
    for (const ctl of this._invocations.values()) ctl.abort(gone);
    this._invocations.clear();
    if (wasOpen && this.onclose) this.onclose(info);
    this._closedResolve(info);
  }
}

/** A subscription; unsubscribe() ends it. */
export class Subscription {
  constructor(session, id, topic, handler) {
    this.session = session;
    this.id = id;
    this.topic = topic;
    this.handler = handler;
  }

  unsubscribe() {
    const s = this.session;
    const handlers = s._subs.get(this.id);
    if (handlers) {
      handlers.delete(this.handler);
      if (handlers.size > 0) return Promise.resolve(true);
      s._subs.delete(this.id);
    }
    return s._request((id) => [UNSUBSCRIBE, id, this.id]);
  }
}

/** A registration; unregister() ends it. */
export class Registration {
  constructor(session, id, procedure) {
    this.session = session;
    this.id = id;
    this.procedure = procedure;
  }

  unregister() {
    const s = this.session;
    return s._request((id) => [UNREGISTER, id, this.id]).then((v) => {
      s._regs.delete(this.id);
      return v;
    });
  }
}
