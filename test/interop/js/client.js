#!/usr/bin/env node
// autobahn-js interop client for Switchyard (driven by ../interop_test.go).
//
// Usage:
//   node client.js --role ROLE --transport websocket --url ws://127.0.0.1:PORT/ --serializer json|msgpack|cbor
//   node client.js --role ROLE --transport rawsocket --host 127.0.0.1 --port PORT    (JSON only)
//   node client.js --role ROLE --transport rawsocket --path /path/to/unix.sock       (JSON only)
// Common options: --realm realm1 --prefix URI_PREFIX --timeout SECONDS --name NAME
//                 --expect NAME1,NAME2 (subscriber) --count N (callee) --expect-error URI (caller)
// Every option can also be given as an environment variable SY_<OPTION> (e.g. SY_URL).
//
// Roles:
//   scenario    two sessions: RPC (args, kwargs, binary, errors) and PubSub (ack, exclude_me)
//   callee      register PREFIX.bin_echo, print READY, serve COUNT calls, exit
//   caller      call PREFIX.bin_echo with a binary and check the binary answer (or, with
//               --expect-error, that the call fails with that error URI)
//   subscriber  subscribe PREFIX.fanout, print READY, wait for one event from each EXPECT name
//   publisher   publish one event to PREFIX.fanout (acknowledged) as NAME
//   shutdown    join, print READY, expect the router to end the session with wamp.close.system_shutdown
//   canceler    call PREFIX.hang (python's interruptible role), cancel it with mode kill, and expect
//               the callee's ERROR itest.error.interrupted
//   auth        join with --authmethod ticket|wampcra|cryptosign (--authid, --secret: ticket, password
//               or hex cryptosign seed; --sign-with SEED signs the cryptosign challenge with another
//               key), check WELCOME (--expect-authid, --expect-authrole), then run --plan
//               (ACTION:URI:allow|deny[:disclosed|bare],...) with a helper session (--helper-authid,
//               --helper-secret, ticket) on the other side of each action; or, with --expect-abort
//               URI, check that the router refuses the session with that reason
//
// Exit status 0 means every assertion held; anything else prints "FAIL: ..." and exits 1.
'use strict';

const fx = require('./fixtures');

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) fail(`unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf('=');
    if (eq > 0) {
      opts[a.slice(2, eq)] = a.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) fail(`option ${a} needs a value`);
      opts[a.slice(2)] = argv[++i];
    }
  }
  const get = (k, def) => {
    if (opts[k] !== undefined) return opts[k];
    const env = process.env['SY_' + k.toUpperCase()];
    if (env !== undefined && env !== '') return env;
    return def;
  };
  return {
    role: get('role', 'scenario'),
    transport: get('transport', 'websocket'),
    url: get('url', 'ws://127.0.0.1:8080/'),
    host: get('host', '127.0.0.1'),
    port: get('port', undefined),
    path: get('path', undefined),
    serializer: get('serializer', 'json'),
    realm: get('realm', 'realm1'),
    prefix: get('prefix', 'test.js.' + process.pid),
    timeout: Number(get('timeout', '20')),
    name: get('name', 'js'),
    expect: get('expect', ''),
    count: Number(get('count', '1')),
    expectError: get('expect-error', ''),
    // Authentication (role auth): see the usage text.
    authmethod: get('authmethod', ''),
    authid: get('authid', ''),
    secret: get('secret', ''),
    signWith: get('sign-with', ''),
    expectAuthid: get('expect-authid', ''),
    expectAuthrole: get('expect-authrole', ''),
    expectAbort: get('expect-abort', ''),
    helperAuthid: get('helper-authid', ''),
    helperSecret: get('helper-secret', ''),
    plan: get('plan', ''),
  };
}

let LABEL = 'js';
const T0 = Date.now();
function log(msg) {
  process.stdout.write(`[${LABEL} +${((Date.now() - T0) / 1000).toFixed(3)}s] ${msg}\n`);
}

let exiting = false;
function fail(msg) {
  if (exiting) return;
  exiting = true;
  process.stdout.write(`FAIL: [${LABEL}] ${msg}\n`);
  // Let stdout drain; never hang on it.
  setTimeout(() => process.exit(1), 50).unref();
  process.exitCode = 1;
}

function pass(msg) {
  if (exiting) return;
  exiting = true;
  process.stdout.write(`PASS: [${LABEL}] ${msg}\n`);
  setTimeout(() => process.exit(0), 50).unref();
}

// Trap everything that could otherwise kill the process with a stack trace or leave it hanging:
// ws emits an unhandled 'error' when the router refuses the subprotocol, autobahn swallows
// exceptions thrown from callbacks, and so on.
process.on('uncaughtException', (e) => fail(`uncaught exception: ${(e && e.stack) || e}`));
process.on('unhandledRejection', (e) => fail(`unhandled rejection: ${describeError(e)}`));

const opt = parseArgs(process.argv.slice(2));
LABEL = `js ${opt.role} ${opt.transport}${opt.path ? '-unix' : ''}/${opt.transport === 'rawsocket' ? 'json' : opt.serializer}`;

// Hard timeout for the whole process.
setTimeout(() => fail(`hard timeout of ${opt.timeout}s exceeded (last step: ${step})`), opt.timeout * 1000);

let step = 'start';
function at(s) {
  step = s;
  log(s);
}

// ------------------------------------------------------------ autobahn setup

// autobahn-js binds console.warn when it loads: filter its reconnect chatter first (set
// AUTOBAHN_DEBUG=1 in the environment to see everything, including its debug log).
if (process.env.AUTOBAHN_DEBUG) {
  global.AUTOBAHN_DEBUG = true;
} else {
  const origWarn = console.warn.bind(console);
  console.warn = (...a) => {
    if (typeof a[0] === 'string' && (a[0].startsWith('connection closed') || a[0].startsWith('auto-reconnect disabled'))) return;
    origWarn(...a);
  };
}

// autobahn-js reports a failed connection only as "unreachable"/"lost": remember the last
// 'error' event any emitter (ws's WebSocket, autobahn's RawSocket protocol, net.Socket) raised,
// so a failure can say why (refused subprotocol, HTTP status, RawSocket handshake error, ...).
let lastTransportError = null;
{
  const EventEmitter = require('events');
  const origEmit = EventEmitter.prototype.emit;
  EventEmitter.prototype.emit = function (ev, ...a) {
    if (ev === 'error' && a[0]) lastTransportError = (a[0] && a[0].message) || String(a[0]);
    return origEmit.call(this, ev, ...a);
  };
}
function transportErrorNote() {
  return lastTransportError ? ` (last transport error: ${lastTransportError})` : '';
}

let autobahn;
try {
  autobahn = require('autobahn');
} catch (e) {
  fail(`cannot load autobahn (run scripts/install-test-deps.sh): ${e.message}`);
  return;
}

const RAW = opt.transport === 'rawsocket';
// autobahn-js RawSocket hard-codes JSON.stringify/JSON.parse without binary support, so over
// RawSocket binary values are put on the wire in WAMP's JSON binary form ("\0" + base64) by us.
const wire = (v) => (RAW ? fx.toJSONBinary(v) : v);

function makeSerializer(name) {
  switch (name) {
    case 'json':
      // WAMP JSON binary convention: a string starting with \0 is base64 bytes.
      return new autobahn.serializer.JSONSerializer(fx.jsonReplacer, fx.jsonReviver);
    case 'msgpack':
      if (!autobahn.serializer.MsgpackSerializer) throw new Error('autobahn-js has no MsgpackSerializer (msgpack5 missing?)');
      return new autobahn.serializer.MsgpackSerializer();
    case 'cbor':
      if (!autobahn.serializer.CBORSerializer) throw new Error('autobahn-js has no CBORSerializer (cbor missing?)');
      return new autobahn.serializer.CBORSerializer();
    default:
      throw new Error(`unknown serializer ${name}`);
  }
}

function transportConfig() {
  if (opt.transport === 'websocket') {
    return { type: 'websocket', url: opt.url, serializers: [makeSerializer(opt.serializer)] };
  }
  if (opt.transport === 'rawsocket') {
    if (opt.serializer !== 'json') throw new Error('autobahn-js RawSocket only speaks JSON');
    if (opt.path) return { type: 'rawsocket', path: opt.path };
    if (!opt.port) throw new Error('rawsocket needs --port or --path');
    return { type: 'rawsocket', host: opt.host, port: Number(opt.port) };
  }
  throw new Error(`unknown transport ${opt.transport}`);
}

const hexToBytes = (hex) => Uint8Array.from(Buffer.from(hex, 'hex'));
const bytesToHex = (b) => Buffer.from(b).toString('hex');

// authOptions returns the autobahn.Connection options that authenticate with auth
// ({method, authid, secret, signWith}); {} offers no method (anonymous).
function authOptions(auth) {
  if (!auth || !auth.method || auth.method === 'none') return {};
  const o = { authmethods: [auth.method] };
  if (auth.authid) o.authid = auth.authid;
  switch (auth.method) {
    case 'anonymous':
      break;
    case 'ticket':
      o.onchallenge = (session, method) => {
        assertEqual(method, 'ticket', 'CHALLENGE method');
        return auth.secret;
      };
      break;
    case 'wampcra':
      o.onchallenge = (session, method, extra) => {
        assertEqual(method, 'wampcra', 'CHALLENGE method');
        // Salted WAMP-CRA: the HMAC key is the base64 text of PBKDF2(secret, salt), which
        // autobahn.auth_cra.derive_key computes from the CHALLENGE's parameters.
        const key = extra.salt ? autobahn.auth_cra.derive_key(auth.secret, extra.salt, extra.iterations, extra.keylen) : auth.secret;
        log(`wampcra challenge (${extra.salt ? `salted, ${extra.iterations} iterations, keylen ${extra.keylen}` : 'unsalted'})`);
        return autobahn.auth_cra.sign(key, extra.challenge);
      };
      break;
    case 'cryptosign': {
      // secret: the hex private key (32-byte seed) whose public key is announced; signWith: another
      // seed to sign the challenge with instead (a forged signature, for the failure path).
      const key = autobahn.nacl.sign.keyPair.fromSeed(hexToBytes(auth.secret));
      const signer = auth.signWith ? autobahn.nacl.sign.keyPair.fromSeed(hexToBytes(auth.signWith)) : key;
      o.authextra = { pubkey: bytesToHex(key.publicKey) };
      o.onchallenge = (session, method, extra) => {
        assertEqual(method, 'cryptosign', 'CHALLENGE method');
        return autobahn.auth_cryptosign.sign_challenge(signer, extra);
      };
      break;
    }
    default:
      throw new Error(`unsupported authmethod ${auth.method}`);
  }
  return o;
}

const defaultAuth = () => ({ method: opt.authmethod, authid: opt.authid, secret: opt.secret, signWith: opt.signWith });

// Opens one WAMP session. Resolves with {session, connection, closed, details} where closed is a
// promise resolving with {reason, details} once the connection closes and details are WELCOME's.
// A session the router refuses rejects with an Error whose abort property is {reason, message}.
function openSession(label, { allowClose = false, auth = defaultAuth() } = {}) {
  return new Promise((resolve, reject) => {
    let opened = false;
    let closing = false;
    let closedResolve;
    const closed = new Promise((r) => (closedResolve = r));
    const connection = new autobahn.Connection({
      realm: opt.realm,
      transports: [transportConfig()],
      max_retries: 0,
      retry_if_unreachable: false,
      // autobahn reports errors our handlers raise on purpose (autobahn.Error) here too.
      on_user_error: (e, msg) => {
        if (!(e instanceof autobahn.Error)) fail(`${label}: ${msg}: ${describeError(e)}`);
      },
      on_internal_error: (e, msg) => fail(`${label}: autobahn internal error: ${msg}: ${describeError(e)}`),
      ...authOptions(auth),
    });
    connection.onopen = (session, details) => {
      opened = true;
      const proto = details && details.transport ? details.transport.protocol : '?';
      log(`${label}: joined realm ${opt.realm} as session ${session.id} (protocol ${proto})`);
      resolve({
        session,
        connection,
        closed,
        details: details || {},
        close: () => {
          closing = true;
          if (connection.isOpen) connection.close();
          return closed;
        },
      });
    };
    connection.onclose = (reason, details) => {
      const d = { reason: details && details.reason, message: details && details.message };
      if (!opened) {
        const err = new Error(`${label}: connection failed before join: ${reason} ${JSON.stringify(d)}${transportErrorNote()}`);
        err.abort = d;
        reject(err);
      } else if (!closing && !allowClose) {
        fail(`${label}: connection closed unexpectedly: ${reason} ${JSON.stringify(d)}${transportErrorNote()} (step: ${step})`);
      }
      closedResolve({ reason, details: d });
      return true; // never retry
    };
    connection.open();
  });
}

function describeError(e) {
  if (e instanceof autobahnErrorClass()) {
    return `WAMP error ${e.error} args=${fx.show(e.args)} kwargs=${fx.show(e.kwargs)}`;
  }
  // Our own failures are plain Errors with a complete message; show stacks for the rest.
  if (e instanceof Error && e.constructor === Error && !process.env.AUTOBAHN_DEBUG) return e.message;
  if (e && e.stack) return e.stack;
  try {
    return JSON.stringify(e);
  } catch (_) {
    return String(e);
  }
}
function autobahnErrorClass() {
  return (autobahn && autobahn.Error) || function Never() {};
}

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
function assertEqual(actual, expected, what) {
  if (!fx.deepEqual(actual, expected)) {
    throw new Error(`assertion failed: ${what}:\n  got:  ${fx.show(actual)}\n  want: ${fx.show(expected)}`);
  }
}

// callResult normalises a call result to {args, kwargs}.
function callResult(r) {
  if (r instanceof autobahn.Result) return { args: r.args || [], kwargs: r.kwargs || {} };
  return { args: r === undefined || r === null ? [] : [r], kwargs: {} };
}

async function expectCallError(session, uri, args, kwargs, wantURI, wantArgs, wantKwargs) {
  let res;
  try {
    res = await session.call(uri, args, kwargs);
  } catch (e) {
    if (!(e instanceof autobahn.Error)) throw new Error(`call ${uri}: expected WAMP error ${wantURI}, got ${describeError(e)}`);
    assertEqual(e.error, wantURI, `error URI of call ${uri}`);
    if (wantArgs !== undefined) assertEqual(e.args || [], wantArgs, `error args of call ${uri}`);
    if (wantKwargs !== undefined) assertEqual(e.kwargs || {}, wantKwargs, `error kwargs of call ${uri}`);
    return e;
  }
  throw new Error(`call ${uri}: expected WAMP error ${wantURI}, got result ${fx.show(res)}`);
}

async function waitFor(pred, what, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await sleep(10);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------- roles

async function roleScenario() {
  const P = opt.prefix;
  at('open callee/subscriber session A');
  const A = await openSession('A');
  at('open caller/publisher session B');
  const B = await openSession('B');
  const a = A.session;
  const b = B.session;

  // --- RPC
  at('A registers echo and fail');
  let echoDetails = null;
  const regEcho = await a.register(`${P}.echo`, (args, kwargs, details) => {
    echoDetails = details;
    return new autobahn.Result(args, kwargs);
  });
  await a.register(`${P}.fail`, (args) => {
    throw new autobahn.Error(fx.APP_ERROR_URI, wire(fx.appErrorArgs()), wire(fx.appErrorKwargs()));
  });

  at('B calls echo with positional args, kwargs and binary');
  const r1 = callResult(await b.call(`${P}.echo`, wire(fx.callArgs()), wire(fx.callKwargs())));
  assertEqual(r1.args, fx.callArgs(), 'echo result args');
  assertEqual(r1.kwargs, fx.callKwargs(), 'echo result kwargs');
  assert(echoDetails !== null, 'callee got invocation details');

  at('B calls echo with only a binary argument');
  const r2 = callResult(await b.call(`${P}.echo`, wire([fx.BIN_A])));
  assertEqual(r2.args, [fx.BIN_A], 'echo of a lone binary');
  assert(fx.asBytes(r2.args[0]).length === 256, 'binary length 256');

  at('B calls echo with a 1 MiB binary');
  const rBig = callResult(await b.call(`${P}.echo`, wire([fx.BIG])));
  assert(rBig.args.length === 1 && fx.asBytes(rBig.args[0]).equals(fx.BIG), `1 MiB binary echoed intact (got ${fx.show(rBig.args).slice(0, 100)})`);

  at('B calls echo with no arguments');
  const r3 = callResult(await b.call(`${P}.echo`));
  assertEqual(r3.args, [], 'echo of no arguments');

  at('B calls a missing procedure');
  await expectCallError(b, `${P}.does_not_exist`, [1], {}, 'wamp.error.no_such_procedure');

  at('B calls a procedure that raises an application error');
  await expectCallError(b, `${P}.fail`, [], {}, fx.APP_ERROR_URI, fx.appErrorArgs(), fx.appErrorKwargs());

  at('B registers the same procedure again');
  try {
    await b.register(`${P}.echo`, () => null);
    throw new Error('second registration of the same URI succeeded; want wamp.error.procedure_already_exists');
  } catch (e) {
    if (!(e instanceof autobahn.Error)) throw e;
    assertEqual(e.error, 'wamp.error.procedure_already_exists', 'error URI of duplicate REGISTER');
  }

  at('A unregisters echo; B calls it again');
  await a.unregister(regEcho);
  await expectCallError(b, `${P}.echo`, [1], {}, 'wamp.error.no_such_procedure');

  // --- PubSub
  const topic = `${P}.topic`;
  const gotA = [];
  const gotB = [];
  at('A and B subscribe');
  await a.subscribe(topic, (args, kwargs, details) => gotA.push({ args: args || [], kwargs: kwargs || {}, details }));
  await b.subscribe(topic, (args, kwargs, details) => gotB.push({ args: args || [], kwargs: kwargs || {}, details }));

  at('B publishes with acknowledge');
  const pub = await b.publish(topic, wire(fx.eventArgs('B')), wire(fx.eventKwargs('B')), { acknowledge: true });
  assert(pub && typeof pub.id === 'number' && pub.id > 0, `publication id is a positive number (got ${fx.show(pub && pub.id)})`);

  await waitFor(() => gotA.length >= 1, 'A to receive the event');
  assertEqual(gotA[0].args, fx.eventArgs('B'), 'event args received by A');
  assertEqual(gotA[0].kwargs, fx.eventKwargs('B'), 'event kwargs received by A');
  assertEqual(gotA[0].details.publication, pub.id, 'EVENT publication id equals PUBLISHED id');

  at('A publishes a marker; B must get it and never its own event');
  await a.publish(topic, ['marker'], {}, { acknowledge: true });
  await waitFor(() => gotB.length >= 1, 'B to receive the marker');
  await sleep(100);
  assertEqual(gotB.map((e) => e.args), [['marker']], 'events received by B (exclude_me is the default)');
  assertEqual(gotA.length, 1, 'A does not get its own marker event');

  at('publish with exclude_me=false reaches the publisher');
  await b.publish(topic, ['self'], {}, { acknowledge: true, exclude_me: false });
  await waitFor(() => gotB.length >= 2, 'B to receive its own event with exclude_me=false');
  assertEqual(gotB[1].args, ['self'], 'own event with exclude_me=false');

  at('close');
  await Promise.all([A.close(), B.close()]);
  pass('scenario ok');
}

async function roleCallee() {
  const { session } = await openSession('callee');
  let served = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  await session.register(`${opt.prefix}.bin_echo`, (args, kwargs) => {
    args = args || [];
    kwargs = kwargs || {};
    log(`invocation ${served + 1}: ${fx.show(args).slice(0, 120)}`);
    if (!fx.deepEqual(args[0], fx.BIN_A)) {
      throw new autobahn.Error('test.error.binary_mismatch', [`callee got ${fx.show(args[0]).slice(0, 200)}`]);
    }
    served++;
    if (served >= opt.count) setTimeout(done, 50);
    return new autobahn.Result(wire([fx.reversed(fx.BIN_A), fx.BIN_B]), wire({ served_by: opt.name, received_len: fx.asBytes(args[0]).length, from: kwargs.from }));
  });
  process.stdout.write('READY\n');
  at(`registered ${opt.prefix}.bin_echo; serving ${opt.count} call(s)`);
  await finished;
  pass(`served ${served} call(s)`);
}

async function roleCaller() {
  const { session, close } = await openSession('caller');
  if (opt.expectError) {
    at(`call ${opt.prefix}.bin_echo, expecting ${opt.expectError}`);
    await expectCallError(session, `${opt.prefix}.bin_echo`, wire([fx.BIN_A, opt.name]), {}, opt.expectError);
    await close();
    pass(`call failed with ${opt.expectError} as expected`);
    return;
  }
  at(`call ${opt.prefix}.bin_echo`);
  const r = callResult(await session.call(`${opt.prefix}.bin_echo`, wire([fx.BIN_A, opt.name]), { from: opt.name }));
  assertEqual(r.args, [fx.reversed(fx.BIN_A), fx.BIN_B], 'bin_echo result args (binary both ways)');
  assert(r.kwargs.received_len === 256, `callee saw 256 bytes (kwargs ${fx.show(r.kwargs)})`);
  assert(r.kwargs.from === opt.name, `callee saw from=${opt.name} (kwargs ${fx.show(r.kwargs)})`);
  await close();
  pass(`call answered by ${r.kwargs.served_by}, binary intact both ways`);
}

async function roleSubscriber() {
  const expect = opt.expect.split(',').filter(Boolean);
  const got = new Map();
  const { session, close } = await openSession('subscriber');
  await session.subscribe(`${opt.prefix}.fanout`, (args, kwargs) => {
    args = args || [];
    kwargs = kwargs || {};
    const from = args[0];
    log(`event from ${from}`);
    if (got.has(from)) fail(`duplicate event from ${from}`);
    got.set(from, { args, kwargs });
  });
  process.stdout.write('READY\n');
  at(`subscribed to ${opt.prefix}.fanout; expecting events from ${expect.join(',')}`);
  await waitFor(() => expect.every((n) => got.has(n)), `events from ${expect.join(',')} (have ${[...got.keys()].join(',')})`, opt.timeout * 1000);
  for (const n of expect) {
    assertEqual(got.get(n).args, fx.eventArgs(n), `args of event from ${n}`);
    assertEqual(got.get(n).kwargs, fx.eventKwargs(n), `kwargs of event from ${n}`);
  }
  await sleep(100);
  assertEqual([...got.keys()].sort(), [...expect].sort(), 'publishers seen');
  await close();
  pass(`received ${expect.length} event(s) intact`);
}

async function rolePublisher() {
  const { session, close } = await openSession('publisher');
  at(`publish to ${opt.prefix}.fanout as ${opt.name}`);
  const pub = await session.publish(`${opt.prefix}.fanout`, wire(fx.eventArgs(opt.name)), wire(fx.eventKwargs(opt.name)), { acknowledge: true });
  assert(pub && pub.id > 0, 'publication acknowledged with an id');
  await close();
  pass(`published (publication ${pub.id})`);
}

async function roleShutdown() {
  const { closed } = await openSession('watcher', { allowClose: true });
  process.stdout.write('READY\n');
  at('waiting for the router to shut down');
  const c = await closed;
  assertEqual(c.details.reason, 'wamp.close.system_shutdown', `close reason (connection ${c.reason})`);
  pass(`router ended the session with ${c.details.reason}`);
}

// roleCanceler calls PREFIX.hang (served by python's interruptible role) and cancels the call in
// mode kill: the dealer must INTERRUPT the callee and pass the callee's answer to that on to us.
// (Only kill: for skip and killnowait autobahn-js 22.11.1 rejects the call itself and drops it,
// then takes the router's ERROR wamp.error.canceled for a protocol violation.)
async function roleCanceler() {
  const P = opt.prefix;
  const { session, close } = await openSession('caller');
  at(`call ${P}.hang, then cancel it with mode kill`);
  const call = session.call(`${P}.hang`, [opt.name]);
  await sleep(200);
  call.cancel({ mode: 'kill' });
  const e = await expectError(`call ${P}.hang cancelled with mode kill`, () => call, 'itest.error.interrupted');
  log(`call ended with the callee's answer to INTERRUPT: ${describeError(e)}`);
  at('ask the callee what it saw');
  assertEqual(await session.call(`${P}.hang_stats`), [1, 1], 'callee [invocations, INTERRUPTs]');
  await close();
  pass('CANCEL mode kill: the callee was interrupted and its ERROR reached the caller');
}

const NOT_AUTHORIZED = 'wamp.error.not_authorized';

async function expectError(what, make, wantURI) {
  let res;
  try {
    res = await make();
  } catch (e) {
    if (!(e instanceof autobahn.Error)) throw new Error(`${what}: expected WAMP error ${wantURI}, got ${describeError(e)}`);
    assertEqual(e.error, wantURI, `error URI of ${what}`);
    return e;
  }
  throw new Error(`${what}: expected WAMP error ${wantURI}, got success ${fx.show(res)}`);
}

function parsePlan(text) {
  return text.split(',').filter(Boolean).map((item) => {
    const parts = item.split(':');
    if (![3, 4].includes(parts.length) || !['call', 'register', 'publish', 'subscribe'].includes(parts[0]) || !['allow', 'deny'].includes(parts[2])) {
      throw new Error(`bad --plan step ${JSON.stringify(item)}`);
    }
    return { action: parts[0], uri: parts[1], allow: parts[2] === 'allow', flags: new Set(parts.length === 4 ? parts[3].split('+') : []) };
  });
}

// checkIdentity: kind 'caller' or 'publisher'; the INVOCATION/EVENT details must name the tested
// session exactly when the role discloses it.
function checkIdentity(details, who, tInfo, disclosed, kind) {
  const got = [details[kind], details[`${kind}_authid`], details[`${kind}_authrole`]].map((v) => (v === undefined ? null : v));
  if (disclosed) {
    assertEqual(got, [tInfo.session, tInfo.authid, tInfo.authrole], `${kind} disclosed to the ${who} ([${kind}, ${kind}_authid, ${kind}_authrole])`);
  } else {
    assertEqual(got, [null, null, null], `${kind} not disclosed to the ${who}`);
  }
}

// runPlan runs each action as the tested session t; the helper h (allowed everything) plays the
// other side, so an allowed action is shown to work end to end and a denied one to have no effect.
async function runPlan(h, t, tInfo, steps) {
  const tag = opt.name;
  for (const { action, uri, allow, flags } of steps) {
    const bare = flags.has('bare');
    const disclosed = flags.has('disclosed');
    at(`${action} ${uri}: expect ${allow ? 'allowed' : 'not_authorized'}${flags.size ? ` (${[...flags].sort().join('+')})` : ''}`);
    if (action === 'call') {
      const seen = [];
      const reg = bare ? null : await h.register(uri, (args, kwargs, details) => {
        seen.push(details);
        return ['ok', uri];
      });
      // (no arguments when bare: the procedure may be the router's, wamp.session.count say)
      const doCall = () => (bare ? t.call(uri) : t.call(uri, [tag]));
      if (allow) {
        const res = await doCall();
        log(`result: ${fx.show(res).slice(0, 200)}`);
        if (!bare) {
          assertEqual(res, ['ok', uri], `result of call ${uri}`);
          assertEqual(seen.length, 1, `invocations of the helper's ${uri}`);
          checkIdentity(seen[0], 'callee', tInfo, disclosed, 'caller');
        }
      } else {
        await expectError(`call ${uri}`, doCall, NOT_AUTHORIZED);
        assertEqual(seen.length, 0, `invocations of the helper's ${uri} after a denied call`);
      }
      if (reg) await h.unregister(reg);
    } else if (action === 'register') {
      const endpoint = () => ['served', tag];
      if (allow) {
        const reg = await t.register(uri, endpoint);
        assertEqual(await h.call(uri), ['served', tag], `helper's call of ${uri} registered by the tested session`);
        await t.unregister(reg);
      } else {
        await expectError(`register ${uri}`, () => t.register(uri, endpoint), NOT_AUTHORIZED);
      }
    } else if (action === 'publish') {
      const got = [];
      const sub = bare ? null : await h.subscribe(uri, (args, kwargs, details) => {
        if (args && args[0] === tag) got.push({ args, details });
      });
      const doPublish = () => t.publish(uri, [tag, uri], {}, { acknowledge: true });
      if (allow) {
        const pub = await doPublish();
        assert(pub && pub.id > 0, `publication to ${uri} acknowledged`);
        if (!bare) {
          await waitFor(() => got.length > 0, `the helper to receive the event on ${uri}`);
          assertEqual(got[0].args, [tag, uri], 'event args');
          checkIdentity(got[0].details, 'subscriber', tInfo, disclosed, 'publisher');
        }
      } else {
        await expectError(`publish ${uri}`, doPublish, NOT_AUTHORIZED);
        if (!bare) {
          await sleep(100);
          assertEqual(got.length, 0, `events the helper got after a denied publish to ${uri}`);
        }
      }
      if (sub) await h.unsubscribe(sub);
    } else if (action === 'subscribe') {
      const got = [];
      const handler = (args) => {
        if (args && args[0] === tag) got.push(args);
      };
      if (allow) {
        const sub = await t.subscribe(uri, handler);
        await h.publish(uri, [tag, 'from helper'], {}, { acknowledge: true });
        await waitFor(() => got.length > 0, `the tested session to receive the helper's event on ${uri}`);
        assertEqual(got[0], [tag, 'from helper'], 'event args');
        await t.unsubscribe(sub);
      } else {
        await expectError(`subscribe ${uri}`, () => t.subscribe(uri, handler), NOT_AUTHORIZED);
      }
    }
  }
  return steps.length;
}

// roleAuth authenticates with --authmethod, checks WELCOME, then runs the --plan of allowed and
// denied actions. With --expect-abort, checks instead that the router refuses the session.
async function roleAuth() {
  const who = `${opt.authmethod || 'no authmethod'} as ${JSON.stringify(opt.authid || null)}`;
  if (opt.expectAbort) {
    at(`join ${opt.realm} with ${who}: expect ABORT ${opt.expectAbort}`);
    let joined;
    try {
      joined = await openSession('tested', { allowClose: true });
    } catch (e) {
      if (!e.abort) throw e;
      assertEqual(e.abort.reason, opt.expectAbort, `ABORT reason (ABORT message: ${JSON.stringify(e.abort.message)})`);
      pass(`refused with ${e.abort.reason} (${e.abort.message})`);
      return;
    }
    const d = joined.details;
    await joined.close();
    throw new Error(`joined (authid=${d.authid} authrole=${d.authrole} authmethod=${d.authmethod}) but the router should have refused`);
  }
  at(`open the helper session (ticket as ${opt.helperAuthid})`);
  const H = await openSession('helper', { auth: { method: 'ticket', authid: opt.helperAuthid, secret: opt.helperSecret } });
  at(`join ${opt.realm} with ${who}`);
  const T = await openSession('tested');
  const d = T.details;
  log(`WELCOME: authid=${d.authid} authrole=${d.authrole} authmethod=${d.authmethod} authprovider=${d.authprovider} authextra=${fx.show(d.authextra || {})}`);
  assertEqual([d.authid, d.authrole, d.authmethod], [opt.expectAuthid || opt.authid, opt.expectAuthrole, opt.authmethod], 'WELCOME [authid, authrole, authmethod]');
  const n = await runPlan(H.session, T.session, { session: T.session.id, authid: d.authid, authrole: d.authrole }, parsePlan(opt.plan));
  at('close');
  await Promise.all([T.close(), H.close()]);
  pass(`${d.authmethod}: authid=${d.authid} authrole=${d.authrole}, ${n} action(s) allowed/denied as the role says`);
}

const roles = {
  auth: roleAuth,
  canceler: roleCanceler,
  scenario: roleScenario,
  callee: roleCallee,
  caller: roleCaller,
  subscriber: roleSubscriber,
  publisher: rolePublisher,
  shutdown: roleShutdown,
};

(async () => {
  const fn = roles[opt.role];
  if (!fn) throw new Error(`unknown role ${opt.role}`);
  log(`connecting to ${RAW ? (opt.path ? 'unix:' + opt.path : `rs://${opt.host}:${opt.port}`) : opt.url}, realm ${opt.realm}, prefix ${opt.prefix}`);
  await fn();
})().catch((e) => fail(`${describeError(e)} (step: ${step})`));
