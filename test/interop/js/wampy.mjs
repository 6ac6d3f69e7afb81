// wampy.js 8.0.2 clients driven by Switchyard's interop tests (test/interop/wampy_test.go).
//
//   node wampy.mjs --role scenario --url ws://127.0.0.1:8080/ --realm R --serializer msgpack --ws ws
//   node wampy.mjs --role auth --url ... --realm R --authmethod wampcra --authid ID --secret S \
//       --expect-authrole ROLE --allow call,subscribe --helper-authid H --helper-secret T --prefix P
//
// Prints "PASS: ..." and exits 0, or prints "FAIL: ..." and exits 1.
//
// wampy sends the option keys it was not given as undefined (msgpackr: the extension d4 00 00,
// cbor-x: simple value 23), which is what the msgpack and cbor runs put on the wire.
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import { Wampy } from 'wampy';
import { JsonSerializer } from 'wampy/JsonSerializer.js';
import { MsgpackSerializer } from 'wampy/MsgpackSerializer.js';
import { CborSerializer } from 'wampy/CborSerializer.js';
import * as wampyCra from 'wampy/wampcra.js';
import * as wampyCS from 'wampy/cryptosign.js';

// ---------------------------------------------------------------- arguments

const args = { role: 'scenario', realm: 'realm1', serializer: 'json', ws: 'ws', timeout: '30', prefix: 'itest.wampy', allow: '' };
for (let i = 2; i < process.argv.length; i += 2) {
	const key = process.argv[i].replace(/^--/, '').replace(/-/g, '_');
	args[key] = process.argv[i + 1];
}

const tag = `wampy/${args.serializer}/${args.ws}`;
const fail = (msg) => {
	console.log(`FAIL: ${tag} ${args.role}: ${msg}`);
	process.exit(1);
};
const log = (msg) => console.log(`${tag}: ${msg}`);

setTimeout(() => fail(`timed out after ${args.timeout}s`), Number(args.timeout) * 1000).unref();
process.on('unhandledRejection', (e) => fail(`unhandled rejection: ${describe(e)}`));

// The two WebSocket implementations wampy documents for Node: the ws package (the version wampy
// itself depends on, resolved from wampy's own directory) and the W3C-style client of the
// websocket package.
const requireFromWampy = createRequire(createRequire(import.meta.url).resolve('wampy'));
function webSocketClass(name) {
	switch (name) {
		case 'ws':
			return requireFromWampy('ws');
		case 'websocket':
			return requireFromWampy('websocket').w3cwebsocket;
	}
	fail(`unknown --ws ${name}`);
}

function serializer(name) {
	switch (name) {
		case 'json':
			return new JsonSerializer();
		case 'msgpack':
			return new MsgpackSerializer();
		case 'cbor':
			return new CborSerializer();
	}
	fail(`unknown --serializer ${name}`);
}

function describe(e) {
	if (e && e.errorUri) {
		return `${e.name} ${e.errorUri} ${JSON.stringify(e.argsList ?? e.details ?? '')}`;
	}
	return e && e.stack ? e.stack : String(e);
}

// session opens a wampy session; auth, when given, holds authid/authmethods/... options.
async function session(auth = {}) {
	const w = new Wampy(args.url, {
		realm: args.realm,
		ws: webSocketClass(args.ws),
		serializer: serializer(args.serializer),
		autoReconnect: false,
		uriValidation: 'loose',
		...auth,
	});
	const welcome = await w.connect();
	return { w, welcome };
}

function expectEqual(what, got, want) {
	if (!isDeepStrictEqual(got, want)) {
		fail(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
	}
}

async function expectWampError(what, promise, uri) {
	try {
		await promise;
	} catch (e) {
		if (e.errorUri !== uri) {
			fail(`${what}: got ${describe(e)}, want ${uri}`);
		}
		return;
	}
	fail(`${what}: succeeded, want ${uri}`);
}

// events collects a subscription's events and lets a test wait for the next one.
function eventQueue() {
	const queued = [];
	const waiters = [];
	return {
		handler(ev) {
			const w = waiters.shift();
			if (w) w(ev);
			else queued.push(ev);
		},
		next(what, ms = 5000) {
			if (queued.length) return Promise.resolve(queued.shift());
			return new Promise((resolve) => {
				const timer = setTimeout(() => fail(`${what}: no event within ${ms} ms`), ms);
				waiters.push((ev) => {
					clearTimeout(timer);
					resolve(ev);
				});
			});
		},
		get length() {
			return queued.length;
		},
	};
}

// ---------------------------------------------------------------- scenario

// The Bondy getting-started example end to end, then PubSub with args and kwargs, options
// that are set next to options left undefined, and an error that leaves the session alone.
async function scenario() {
	const { w: callee } = await session();
	const { w: caller } = await session();
	log('two sessions joined');

	await callee.register('com.example.add', ({ argsList }) => ({ argsList: [argsList[0] + argsList[1]] }));
	const res = await caller.call('com.example.add', [3, 4]);
	expectEqual('com.example.add(3, 4)', res.argsList, [7]);
	// With options: a timeout (milliseconds) beside the undefined ones.
	const res2 = await caller.call('com.example.add', [40, 2], { timeout: 5000 });
	expectEqual('com.example.add(40, 2) with a timeout', res2.argsList, [42]);
	await expectWampError('calling a procedure nobody registered', caller.call('com.example.nothing', []), 'wamp.error.no_such_procedure');
	log('RPC ok');

	const topic = 'com.example.topic';
	const exact = eventQueue();
	const byPrefix = eventQueue();
	await caller.subscribe(topic, exact.handler);
	await caller.subscribe('com.example', byPrefix.handler, { match: 'prefix' });
	// The publisher's own subscription must stay silent: wampy cannot send exclude_me: false.
	const own = eventQueue();
	await callee.subscribe(topic, own.handler);

	const argsList = [1, 'two', { three: [3] }, null];
	const argsDict = { k: 'v', n: 42, nested: { list: [true, false] } };
	await callee.publish(topic, { argsList, argsDict });
	for (const [what, q] of [['exact', exact], ['prefix', byPrefix]]) {
		const ev = await q.next(`${what} subscription`);
		expectEqual(`${what} event args`, ev.argsList, argsList);
		expectEqual(`${what} event kwargs`, ev.argsDict, argsDict);
		if (what === 'prefix') expectEqual('prefix event details.topic', ev.details.topic, topic);
	}
	// A kwargs-only publication.
	await callee.publish(topic, { argsDict: { only: 'kwargs' } });
	expectEqual('kwargs-only event', (await exact.next('kwargs-only')).argsDict, { only: 'kwargs' });
	await byPrefix.next('kwargs-only, prefix');
	// Still one session each, still working after the error above.
	const res3 = await caller.call('com.example.add', [1, 1]);
	expectEqual('com.example.add(1, 1)', res3.argsList, [2]);
	if (own.length !== 0) fail(`the publisher received ${own.length} of its own events`);
	log('PubSub ok');

	await caller.disconnect();
	await callee.disconnect();
	console.log(`PASS: ${tag} scenario: add(3, 4) = 7, events with args and kwargs, exact and prefix`);
}

// ---------------------------------------------------------------- auth

function authOptions(method, authid, secret) {
	const opts = { authid, authmethods: [method], authMode: 'auto', authPlugins: {} };
	switch (method) {
		case 'ticket':
			opts.authPlugins.ticket = () => secret;
			break;
		case 'wampcra':
			opts.authPlugins.wampcra = wampyCra.sign(secret);
			break;
		case 'cryptosign': {
			opts.authPlugins.cryptosign = wampyCS.sign(secret);
			// The public key from the seed, as wampy's helpers compute it.
			opts.authextra = { pubkey: args.pubkey };
			break;
		}
		default:
			fail(`unknown --authmethod ${method}`);
	}
	return opts;
}

// auth joins with the given method and checks WELCOME, then tries the four actions on URIs under
// --prefix: those in --allow must work end to end (shown by a helper session on the other
// side), the others must be refused with wamp.error.not_authorized.
async function auth() {
	if (args.expect_abort) {
		try {
			await session(authOptions(args.authmethod, args.authid, args.secret));
		} catch (e) {
			if (e.errorUri !== args.expect_abort) fail(`refused with ${describe(e)}, want ${args.expect_abort}`);
			console.log(`PASS: ${tag} auth ${args.authmethod}: refused with ${e.errorUri}`);
			return;
		}
		fail(`joined, want ABORT ${args.expect_abort}`);
	}
	const { w: helper } = await session(authOptions('ticket', args.helper_authid, args.helper_secret));
	const { w, welcome } = await session(authOptions(args.authmethod, args.authid, args.secret));
	const details = welcome?.details ?? welcome ?? {};
	expectEqual('WELCOME authid', details.authid, args.expect_authid);
	expectEqual('WELCOME authrole', details.authrole, args.expect_authrole);
	expectEqual('WELCOME authmethod', details.authmethod, args.authmethod);
	log(`joined as ${details.authid}/${details.authrole}`);

	const allow = new Set(args.allow.split(',').filter(Boolean));
	const p = args.prefix;
	const denied = 'wamp.error.not_authorized';

	// call: the helper serves the procedure.
	await helper.register(`${p}.proc`, ({ argsList }) => ({ argsList: [argsList[0] * 2] }));
	if (allow.has('call')) {
		expectEqual('allowed call', (await w.call(`${p}.proc`, [21])).argsList, [42]);
	} else {
		await expectWampError('denied call', w.call(`${p}.proc`, [21]), denied);
	}

	// register: the helper calls what was registered.
	if (allow.has('register')) {
		await w.register(`${p}.reg`, () => ({ argsList: ['registered'] }));
		expectEqual('helper calling the registration', (await helper.call(`${p}.reg`, [])).argsList, ['registered']);
	} else {
		await expectWampError('denied register', w.register(`${p}.reg`, () => ({})), denied);
		await expectWampError('the denied registration', helper.call(`${p}.reg`, []), 'wamp.error.no_such_procedure');
	}

	// publish (wampy always asks for acknowledgement): the helper subscribes.
	const seen = eventQueue();
	await helper.subscribe(`${p}.topic`, seen.handler);
	if (allow.has('publish')) {
		await w.publish(`${p}.topic`, { argsList: ['published'], argsDict: { by: args.authid } });
		const ev = await seen.next('the helper receiving the publication');
		expectEqual('published event', [ev.argsList, ev.argsDict], [['published'], { by: args.authid }]);
	} else {
		await expectWampError('denied publish', w.publish(`${p}.topic`, { argsList: ['x'] }), denied);
	}

	// subscribe: the helper publishes.
	if (allow.has('subscribe')) {
		const mine = eventQueue();
		await w.subscribe(`${p}.feed`, mine.handler);
		await helper.publish(`${p}.feed`, { argsList: ['fed'] });
		expectEqual('subscribed event', (await mine.next('the subscription')).argsList, ['fed']);
	} else {
		await expectWampError('denied subscribe', w.subscribe(`${p}.feed`, () => {}), denied);
	}
	await new Promise((r) => setTimeout(r, 100));
	if (seen.length !== 0) fail('a denied publication reached the helper');

	await w.disconnect();
	await helper.disconnect();
	console.log(`PASS: ${tag} auth ${args.authmethod} as ${details.authrole}: allowed [${[...allow].join(', ')}], the rest denied`);
}

try {
	switch (args.role) {
		case 'scenario':
			await scenario();
			break;
		case 'auth':
			await auth();
			break;
		default:
			fail(`unknown --role ${args.role}`);
	}
	process.exit(0);
} catch (e) {
	fail(describe(e));
}
