#!/usr/bin/python3
"""autobahn-python interop client for Switchyard (driven by ../interop_test.go).

Run it with Debian's interpreter (/usr/bin/python3) and the Debian packages python3-autobahn,
python3-twisted, python3-msgpack, python3-cbor2 (scripts/install-test-deps.sh installs them).

    /usr/bin/python3 wampclient.py --framework asyncio|twisted --role ROLE \\
        --transport websocket --url ws://127.0.0.1:PORT/ --serializer json|msgpack|cbor
    ... --transport rawsocket --url rs://127.0.0.1:PORT --serializer json|msgpack|cbor
    ... --transport rawsocket --unix /path/to/sock --serializer json|msgpack|cbor

Common options: --realm realm1 --prefix URI_PREFIX --timeout SECONDS --name NAME
                --expect NAME1,NAME2 (subscriber) --count N (callee) --expect-error URI (caller)
Every option can also be given as an environment variable SY_<OPTION> (e.g. SY_URL).

Roles (same meaning as in ../js/client.js):
  scenario    two sessions: RPC (args, kwargs, binary, errors) and PubSub (ack, exclude_me)
  callee      register PREFIX.bin_echo, print READY, serve COUNT calls, exit
  caller      call PREFIX.bin_echo with a binary and check the binary answer (or, with
              --expect-error, that the call fails with that error URI)
  subscriber  subscribe PREFIX.fanout, print READY, wait for one event from each EXPECT name
  publisher   publish one event to PREFIX.fanout (acknowledged) as NAME
  shutdown    join, print READY, expect the router to end the session with wamp.close.system_shutdown
  advanced    Advanced Profile features the router announces in WELCOME (pattern-based subscriptions
              and registrations, shared registrations, progressive results, call timeout,
              black/white listing, session and registration meta API)

Exit status 0 means every assertion held; anything else prints "FAIL: ..." and exits 1.
A framework is chosen once per process (txaio), so asyncio and Twisted run as separate processes.
"""

import argparse
import faulthandler
import os
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures as fx  # noqa: E402


def env(name, default):
    v = os.environ.get("SY_" + name.upper())
    return v if v not in (None, "") else default


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--framework", default=env("framework", "asyncio"), choices=["asyncio", "twisted"])
    p.add_argument("--role", default=env("role", "scenario"),
                   choices=["scenario", "callee", "caller", "subscriber", "publisher", "shutdown", "advanced"])
    p.add_argument("--transport", default=env("transport", "websocket"), choices=["websocket", "rawsocket"])
    p.add_argument("--url", default=env("url", None))
    p.add_argument("--unix", default=env("unix", None), help="Unix socket path (rawsocket)")
    p.add_argument("--serializer", default=env("serializer", "json"), choices=["json", "msgpack", "cbor"])
    p.add_argument("--realm", default=env("realm", "realm1"))
    p.add_argument("--prefix", default=env("prefix", "test.py.%d" % os.getpid()))
    p.add_argument("--timeout", type=float, default=float(env("timeout", "20")))
    p.add_argument("--name", default=env("name", "py"))
    p.add_argument("--expect", default=env("expect", ""))
    p.add_argument("--count", type=int, default=int(env("count", "1")))
    p.add_argument("--expect-error", default=env("expect_error", ""), help="caller: the call must fail with this URI")
    p.add_argument("--log-level", default=env("log_level", "info"))
    return p.parse_args()


OPT = parse_args()
LABEL = "py-%s %s %s%s/%s" % (OPT.framework, OPT.role, OPT.transport, "-unix" if OPT.unix else "", OPT.serializer)
STEP = ["start"]


# Twisted's logging (txaio.start_logging) replaces sys.stdout; our own lines go to the real one.
OUT = sys.__stdout__


def ready():
    """Tells the harness this client is set up (it waits for this line)."""
    OUT.write("READY\n")
    OUT.flush()


T0 = time.monotonic()


def log(msg):
    OUT.write("[%s +%.3fs] %s\n" % (LABEL, time.monotonic() - T0, msg))
    OUT.flush()


def at(step):
    STEP[0] = step
    log(step)


def finish(ok, msg):
    OUT.write("%s: [%s] %s\n" % ("PASS" if ok else "FAIL", LABEL, msg))
    OUT.flush()
    sys.stderr.flush()
    os._exit(0 if ok else 1)


# Hard timeout: a clean message via SIGALRM, and faulthandler (which works even if the
# interpreter is wedged) a little later as a backstop.
def _on_alarm(signum, frame):
    finish(False, "hard timeout of %gs exceeded (last step: %s)" % (OPT.timeout, STEP[0]))


signal.signal(signal.SIGALRM, _on_alarm)
signal.setitimer(signal.ITIMER_REAL, OPT.timeout)
faulthandler.dump_traceback_later(OPT.timeout + 5, exit=True)

# ------------------------------------------------------------------ framework

try:
    import txaio
    if OPT.framework == "asyncio":
        import asyncio
        txaio.use_asyncio()
        from autobahn.asyncio.component import Component
        from autobahn.asyncio import rawsocket as _rs

        # Debian's autobahn 22.7.1: the asyncio RawSocket client raises
        # AttributeError: 'transport_details' right after WELCOME and ABORTs. Patch it.
        if not hasattr(_rs.WampRawSocketMixinAsyncio, "transport_details"):
            _rs.WampRawSocketMixinAsyncio.transport_details = property(lambda s: s._transport_details)
    else:
        txaio.use_twisted()
        from twisted.internet import defer
        from autobahn.twisted.component import Component
    from autobahn.wamp.exception import ApplicationError
    from autobahn.wamp.types import CallOptions, CallResult, PublishOptions, SubscribeOptions, RegisterOptions
except Exception as e:  # pragma: no cover - environment problem
    finish(False, "cannot import autobahn (%s); run scripts/install-test-deps.sh and use /usr/bin/python3" % e)


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed("assertion failed: " + msg)


def check_equal(actual, expected, what):
    if not fx.deep_equal(actual, expected):
        raise Failed("assertion failed: %s:\n  got:  %s\n  want: %s" % (what, fx.show(actual), fx.show(expected)))


async def sleep(seconds):
    await txaio.sleep(seconds)


async def wait_until(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise Failed("timed out after %gs waiting for %s" % (timeout, what))
        await sleep(0.01)


def transport_config():
    if OPT.transport == "websocket":
        if not OPT.url:
            raise Failed("--url is required for websocket")
        return {"type": "websocket", "url": OPT.url, "serializers": [OPT.serializer], "max_retries": 0}
    if OPT.unix:
        return {"type": "rawsocket", "url": "rs://localhost", "endpoint": {"type": "unix", "path": OPT.unix},
                "serializer": OPT.serializer, "max_retries": 0}
    if not OPT.url:
        raise Failed("--url or --unix is required for rawsocket")
    return {"type": "rawsocket", "url": OPT.url, "serializer": OPT.serializer, "max_retries": 0}


class Peer(object):
    """One WAMP session driven through autobahn's Component (no reconnects)."""

    def __init__(self, label, allow_close=False):
        self.label = label
        self.allow_close = allow_close
        self.session = None
        self.leave_details = None
        self.disconnected = False
        self.closing = False
        self.connect_errors = []
        self.done_error = None
        self.finished = False
        self.comp = Component(transports=[transport_config()], realm=OPT.realm)
        self.comp.on("join", self._on_join)
        self.comp.on("leave", self._on_leave)
        self.comp.on("disconnect", self._on_disconnect)
        self.comp.on("connectfailure", self._on_connectfailure)

    def _on_join(self, session, details):
        self.session = session
        log("%s: joined realm %s as session %s (%s)" % (
            self.label, details.realm, details.session, getattr(details, "serializer", None) or OPT.serializer))

    # A session that ends while the test still needs it fails the process at once (pending
    # calls would otherwise wait for the hard timeout).
    def _on_leave(self, session, details):
        self.leave_details = details
        log("%s: left: reason=%s message=%s" % (self.label, details.reason, details.message))
        if self.session is not None and not self.closing and not self.allow_close:
            finish(False, "%s: session ended unexpectedly: reason=%s message=%s (step: %s)" % (
                self.label, details.reason, details.message, STEP[0]))

    def _on_disconnect(self, session, was_clean=None):
        self.disconnected = True
        if self.session is not None and not self.closing and not self.allow_close:
            finish(False, "%s: transport lost unexpectedly (clean=%s) (step: %s)" % (self.label, was_clean, STEP[0]))

    def _on_connectfailure(self, comp, exc):
        self.connect_errors.append(exc)

    def _done_ok(self, _):
        self.finished = True

    def _done_err(self, fail):
        self.finished = True
        self.done_error = fail.value if hasattr(fail, "value") else fail
        return None

    async def open(self):
        if OPT.framework == "asyncio":
            done = self.comp.start(loop=asyncio.get_event_loop())
        else:
            from twisted.internet import reactor
            done = self.comp.start(reactor)
        txaio.add_callbacks(done, self._done_ok, self._done_err)
        deadline = time.monotonic() + 10
        while self.session is None:
            if self.finished or self.leave_details is not None or time.monotonic() > deadline:
                why = []
                if self.leave_details is not None:
                    why.append("ABORT/GOODBYE reason=%s message=%s" % (
                        self.leave_details.reason, self.leave_details.message))
                why += ["connect error: %s" % describe(e) for e in self.connect_errors]
                if self.done_error is not None:
                    why.append(describe(self.done_error))
                if not why:
                    why.append("no session after 10s")
                raise Failed("%s: could not join realm %s: %s" % (self.label, OPT.realm, "; ".join(why)))
            await sleep(0.01)
        return self.session

    async def close(self):
        self.closing = True
        if self.session is not None and self.session.is_attached():
            try:
                self.session.leave()
            except Exception as e:  # already leaving
                log("%s: leave: %s" % (self.label, e))
        try:
            await wait_until(lambda: self.disconnected or self.finished, "%s to disconnect" % self.label, 3)
        except Failed as e:
            log("warning: %s" % e)


def describe(e):
    if isinstance(e, ApplicationError):
        return "WAMP error %s args=%s kwargs=%s" % (e.error, fx.show(list(e.args)), fx.show(e.kwargs or {}))
    if isinstance(e, Failed):
        return str(e)
    return "%s: %s" % (type(e).__name__, e)


def call_result(r):
    if isinstance(r, CallResult):
        return list(r.results or []), dict(r.kwresults or {})
    if r is None:
        return [], {}
    return [r], {}


async def expect_call_error(session, uri, args, kwargs, want_uri, want_args=None, want_kwargs=None):
    try:
        res = await session.call(uri, *args, **kwargs)
    except ApplicationError as e:
        check_equal(e.error, want_uri, "error URI of call %s" % uri)
        if want_args is not None:
            check_equal(list(e.args), want_args, "error args of call %s" % uri)
        if want_kwargs is not None:
            check_equal(e.kwargs or {}, want_kwargs, "error kwargs of call %s" % uri)
        return e
    raise Failed("call %s: expected WAMP error %s, got result %s" % (uri, want_uri, fx.show(res)))


# ---------------------------------------------------------------------- roles

async def role_scenario():
    P = OPT.prefix
    at("open callee/subscriber session A")
    A = Peer("A")
    a = await A.open()
    at("open caller/publisher session B")
    B = Peer("B")
    b = await B.open()

    # --- RPC
    at("A registers echo and fail")
    seen = {}

    def echo(*args, **kwargs):
        seen["echo"] = True
        return CallResult(*args, **kwargs)

    def failing(*args, **kwargs):
        raise ApplicationError(fx.APP_ERROR_URI, *fx.app_error_args(), **fx.app_error_kwargs())

    reg_echo = await a.register(echo, P + ".echo")
    await a.register(failing, P + ".fail")

    at("B calls echo with positional args, kwargs and binary")
    args, kwargs = call_result(await b.call(P + ".echo", *fx.call_args(), **fx.call_kwargs()))
    check_equal(args, fx.call_args(), "echo result args")
    check_equal(kwargs, fx.call_kwargs(), "echo result kwargs")
    check(seen.get("echo"), "callee was invoked")

    at("B calls echo with only a binary argument")
    res = await b.call(P + ".echo", fx.BIN_A)
    check_equal(res, fx.BIN_A, "echo of a lone binary")

    at("B calls echo with a 1 MiB binary")
    res = await b.call(P + ".echo", fx.BIG)
    check(isinstance(res, bytes) and res == fx.BIG, "1 MiB binary echoed intact (got %s)" % fx.show(res)[:100])

    at("B calls echo with no arguments")
    args, kwargs = call_result(await b.call(P + ".echo"))
    check_equal([args, kwargs], [[], {}], "echo of no arguments")

    at("B calls a missing procedure")
    await expect_call_error(b, P + ".does_not_exist", [1], {}, "wamp.error.no_such_procedure")

    at("B calls a procedure that raises an application error")
    await expect_call_error(b, P + ".fail", [], {}, fx.APP_ERROR_URI, fx.app_error_args(), fx.app_error_kwargs())

    at("B registers the same procedure again")
    try:
        await b.register(lambda: None, P + ".echo")
    except ApplicationError as e:
        check_equal(e.error, "wamp.error.procedure_already_exists", "error URI of duplicate REGISTER")
    else:
        raise Failed("second registration of the same URI succeeded; want wamp.error.procedure_already_exists")

    at("A unregisters echo; B calls it again")
    await reg_echo.unregister()
    await expect_call_error(b, P + ".echo", [1], {}, "wamp.error.no_such_procedure")

    # --- PubSub
    topic = P + ".topic"
    got_a, got_b = [], []

    def on_a(*args, details=None, **kwargs):
        got_a.append((list(args), kwargs, details))

    def on_b(*args, details=None, **kwargs):
        got_b.append((list(args), kwargs, details))

    at("A and B subscribe")
    await a.subscribe(on_a, topic, options=SubscribeOptions(details_arg="details"))
    await b.subscribe(on_b, topic, options=SubscribeOptions(details_arg="details"))

    at("B publishes with acknowledge")
    pub = await b.publish(topic, *fx.event_args("B"), options=PublishOptions(acknowledge=True), **fx.event_kwargs("B"))
    check(pub is not None and isinstance(pub.id, int) and pub.id > 0, "publication id is a positive int (got %r)" % (pub,))

    await wait_until(lambda: len(got_a) >= 1, "A to receive the event")
    check_equal(got_a[0][0], fx.event_args("B"), "event args received by A")
    check_equal(got_a[0][1], fx.event_kwargs("B"), "event kwargs received by A")
    check_equal(got_a[0][2].publication, pub.id, "EVENT publication id equals PUBLISHED id")

    at("A publishes a marker; B must get it and never its own event")
    await a.publish(topic, "marker", options=PublishOptions(acknowledge=True))
    await wait_until(lambda: len(got_b) >= 1, "B to receive the marker")
    await sleep(0.1)
    check_equal([e[0] for e in got_b], [["marker"]], "events received by B (exclude_me is the default)")
    check_equal(len(got_a), 1, "number of events A received (not its own marker)")

    at("publish with exclude_me=false reaches the publisher")
    await b.publish(topic, "self", options=PublishOptions(acknowledge=True, exclude_me=False))
    await wait_until(lambda: len(got_b) >= 2, "B to receive its own event with exclude_me=False")
    check_equal(got_b[1][0], ["self"], "own event with exclude_me=False")

    at("close")
    await A.close()
    await B.close()
    return "scenario ok"


async def role_callee():
    peer = Peer("callee")
    s = await peer.open()
    served = [0]

    def bin_echo(*args, **kwargs):
        try:
            return _bin_echo(*args, **kwargs)
        except ApplicationError:
            raise
        except Exception:
            finish(False, "callee handler raised: %s" % traceback.format_exc())

    def _bin_echo(*args, **kwargs):
        log("invocation %d: %s" % (served[0] + 1, fx.show(list(args))[:120]))
        if not args or not fx.deep_equal(args[0], fx.BIN_A):
            raise ApplicationError("test.error.binary_mismatch", "callee got %s" % fx.show(args[0] if args else None)[:200])
        served[0] += 1
        # (CallResult reserves some keyword names, "callee" among them.)
        return CallResult(fx.reversed_bytes(fx.BIN_A), fx.BIN_B,
                          served_by=OPT.name, received_len=len(args[0]), **{"from": kwargs.get("from")})

    await s.register(bin_echo, OPT.prefix + ".bin_echo")
    ready()
    at("registered %s.bin_echo; serving %d call(s)" % (OPT.prefix, OPT.count))
    while served[0] < OPT.count:
        await sleep(0.02)
    await sleep(0.05)
    await peer.close()
    return "served %d call(s)" % served[0]


async def role_caller():
    peer = Peer("caller")
    s = await peer.open()
    if OPT.expect_error:
        at("call %s.bin_echo, expecting %s" % (OPT.prefix, OPT.expect_error))
        await expect_call_error(s, OPT.prefix + ".bin_echo", [fx.BIN_A, OPT.name], {}, OPT.expect_error)
        await peer.close()
        return "call failed with %s as expected" % OPT.expect_error
    at("call %s.bin_echo" % OPT.prefix)
    args, kwargs = call_result(await s.call(OPT.prefix + ".bin_echo", fx.BIN_A, OPT.name, **{"from": OPT.name}))
    check_equal(args, [fx.reversed_bytes(fx.BIN_A), fx.BIN_B], "bin_echo result args (binary both ways)")
    check_equal(kwargs.get("received_len"), 256, "callee saw 256 bytes")
    check_equal(kwargs.get("from"), OPT.name, "callee saw from")
    await peer.close()
    return "call answered by %s, binary intact both ways" % kwargs.get("served_by")


async def role_subscriber():
    expect = [n for n in OPT.expect.split(",") if n]
    got = {}
    peer = Peer("subscriber")
    s = await peer.open()
    dup = []

    def on_event(*args, **kwargs):
        name = args[0] if args else None
        log("event from %s" % name)
        if name in got:
            dup.append(name)
        got[name] = (list(args), kwargs)

    await s.subscribe(on_event, OPT.prefix + ".fanout")
    ready()
    at("subscribed to %s.fanout; expecting events from %s" % (OPT.prefix, ",".join(expect)))
    await wait_until(lambda: all(n in got for n in expect),
                     "events from %s" % ",".join(expect), OPT.timeout)
    for n in expect:
        check_equal(got[n][0], fx.event_args(n), "args of event from %s" % n)
        check_equal(got[n][1], fx.event_kwargs(n), "kwargs of event from %s" % n)
    await sleep(0.1)
    check(not dup, "duplicate events from %s" % dup)
    check_equal(sorted(got), sorted(expect), "publishers seen")
    await peer.close()
    return "received %d event(s) intact" % len(expect)


async def role_publisher():
    peer = Peer("publisher")
    s = await peer.open()
    at("publish to %s.fanout as %s" % (OPT.prefix, OPT.name))
    pub = await s.publish(OPT.prefix + ".fanout", *fx.event_args(OPT.name),
                          options=PublishOptions(acknowledge=True), **fx.event_kwargs(OPT.name))
    check(pub is not None and pub.id > 0, "publication acknowledged with an id")
    await peer.close()
    return "published (publication %d)" % pub.id


async def role_shutdown():
    peer = Peer("watcher", allow_close=True)
    await peer.open()
    ready()
    at("waiting for the router to shut down")
    await wait_until(lambda: peer.leave_details is not None or peer.disconnected, "the router to end the session",
                     OPT.timeout)
    check(peer.leave_details is not None, "router closed the transport without GOODBYE")
    check_equal(peer.leave_details.reason, "wamp.close.system_shutdown", "GOODBYE reason")
    return "router ended the session with %s" % peer.leave_details.reason


async def role_advanced():
    """Advanced Profile features, each checked only if the router announces it in WELCOME."""
    P = OPT.prefix
    at("open sessions A and B")
    A = Peer("A")
    a = await A.open()
    B = Peer("B")
    b = await B.open()
    roles = getattr(a, "_router_roles", None) or {}
    broker, dealer = roles.get("broker"), roles.get("dealer")
    check(broker is not None and dealer is not None, "WELCOME announces broker and dealer roles (got %r)" % (roles,))
    checked, skipped = [], []

    def announced(role, feature):
        ok = bool(getattr(role, feature, None))
        if not ok:
            skipped.append(feature)
            log("feature %s not announced by the router: not checked" % feature)
        else:
            at("feature " + feature)
            checked.append(feature)
        return ok

    if announced(broker, "pattern_based_subscription"):
        got = []

        def handler(kind):
            def h(*args, details=None, **kwargs):
                got.append((kind, details.topic, list(args)))
            return h

        await a.subscribe(handler("prefix"), P + ".pfx", options=SubscribeOptions(match="prefix", details_arg="details"))
        await a.subscribe(handler("wildcard"), P + ".wild..end",
                          options=SubscribeOptions(match="wildcard", details_arg="details"))
        await a.subscribe(handler("exact"), P + ".pfx.a.b", options=SubscribeOptions(details_arg="details"))
        await b.publish(P + ".pfx.a.b", 1, options=PublishOptions(acknowledge=True))
        await b.publish(P + ".wild.x.end", 2, options=PublishOptions(acknowledge=True))
        await b.publish(P + ".wild.x.y.end", 3, options=PublishOptions(acknowledge=True))  # no match
        await b.publish(P + ".other", 4, options=PublishOptions(acknowledge=True))  # no match
        await wait_until(lambda: len(got) >= 3, "3 pattern-matched events")
        await sleep(0.2)
        want = sorted([("exact", P + ".pfx.a.b", [1]), ("prefix", P + ".pfx.a.b", [1]),
                       ("wildcard", P + ".wild.x.end", [2])])
        # EVENT.Details.topic is required for pattern matches; for the exact one it may be absent.
        norm = sorted((k, t if (t is not None or k != "exact") else P + ".pfx.a.b", args) for k, t, args in got)
        check_equal([list(x) for x in norm], [list(x) for x in want],
                    "events delivered once per matching subscription, with details.topic")

    if announced(dealer, "pattern_based_registration"):
        hits = []

        def pfx(*args, details=None, **kwargs):
            hits.append(("prefix", details.procedure))
            return "prefix"

        def exact(*args, details=None, **kwargs):
            hits.append(("exact", details.procedure))
            return "exact"

        await a.register(pfx, P + ".rpc", options=RegisterOptions(match="prefix", details_arg="details"))
        await a.register(exact, P + ".rpc.foo.exact", options=RegisterOptions(details_arg="details"))
        check_equal(await b.call(P + ".rpc.foo.bar"), "prefix", "prefix registration answers")
        check_equal(await b.call(P + ".rpc.foo.exact"), "exact", "exact registration wins over prefix")
        check_equal(hits[0], ("prefix", P + ".rpc.foo.bar"), "INVOCATION.Details.procedure for a prefix match")

    if announced(dealer, "shared_registration"):
        order = []
        await a.register(lambda: order.append("A") or "A", P + ".shared", options=RegisterOptions(invoke="roundrobin"))
        await b.register(lambda: order.append("B") or "B", P + ".shared", options=RegisterOptions(invoke="roundrobin"))
        try:
            await b.register(lambda: None, P + ".shared", options=RegisterOptions(invoke="random"))
        except ApplicationError as e:
            log("REGISTER with another invocation policy refused: %s" % e.error)
        else:
            raise Failed("REGISTER with a different invocation policy was accepted")
        res = [await b.call(P + ".shared") for _ in range(4)]
        check_equal(sorted(res), ["A", "A", "B", "B"], "roundrobin spreads 4 calls over 2 callees")
        check(res[0] != res[1] and res[1] != res[2], "roundrobin alternates (got %r)" % res)

    if announced(dealer, "progressive_call_results"):
        def counter(n, details=None):
            for i in range(1, n + 1):
                details.progress(i, fx.BIN_B)
            return "done"

        await a.register(counter, P + ".progress", options=RegisterOptions(details_arg="details"))
        progress = []
        res = await b.call(P + ".progress", 3, options=CallOptions(on_progress=lambda *args: progress.append(list(args))))
        check_equal(progress, [[1, fx.BIN_B], [2, fx.BIN_B], [3, fx.BIN_B]], "progressive results, in order")
        check_equal(res, "done", "final result after the progressive ones")

    if announced(dealer, "call_timeout"):
        def slow():
            f = txaio.create_future()
            txaio.call_later(3, lambda: txaio.is_called(f) or txaio.resolve(f, "late"))
            return f

        await a.register(slow, P + ".slow")
        t0 = time.monotonic()
        # autobahn-python puts CallOptions.timeout on the wire as is: WAMP wants milliseconds.
        await expect_call_error(b, P + ".slow", [], {"options": CallOptions(timeout=300)}, "wamp.error.timeout")
        took = time.monotonic() - t0
        check(took < 2.5, "timeout answered after %.2fs (want ~0.3s)" % took)

    if announced(broker, "subscriber_blackwhite_listing"):
        got_a, got_b = [], []
        await a.subscribe(lambda *args: got_a.append(list(args)), P + ".bw")
        await b.subscribe(lambda *args: got_b.append(list(args)), P + ".bw")
        C = Peer("C")
        c = await C.open()
        await c.publish(P + ".bw", "only_a", options=PublishOptions(acknowledge=True, eligible=[a._session_id]))
        await c.publish(P + ".bw", "not_a", options=PublishOptions(acknowledge=True, exclude=[a._session_id]))
        await c.publish(P + ".bw", "all", options=PublishOptions(acknowledge=True))
        await wait_until(lambda: len(got_a) >= 2 and len(got_b) >= 2, "black/white-listed events")
        await sleep(0.2)
        check_equal(got_a, [["only_a"], ["all"]], "events for A (eligible/exclude)")
        check_equal(got_b, [["not_a"], ["all"]], "events for B (eligible/exclude)")
        await C.close()

    if announced(broker, "session_meta_api") or announced(dealer, "session_meta_api"):
        n = await b.call("wamp.session.count")
        check(isinstance(n, int) and n >= 2, "wamp.session.count >= 2 (got %r)" % (n,))
        ids = await b.call("wamp.session.list")
        check(isinstance(ids, list) and a._session_id in ids and b._session_id in ids,
              "wamp.session.list includes both sessions (got %s)" % fx.show(ids))
        info = await b.call("wamp.session.get", a._session_id)
        check(isinstance(info, dict) and info.get("session") == a._session_id,
              "wamp.session.get returns A's details (got %s)" % fx.show(info))
        await expect_call_error(b, "wamp.session.get", [123], {}, "wamp.error.no_such_session")

    if announced(dealer, "registration_meta_api"):
        reg = await a.register(lambda: None, P + ".meta")
        rid = await b.call("wamp.registration.lookup", P + ".meta")
        check_equal(rid, reg.id, "wamp.registration.lookup returns the registration ID")

    at("close")
    await A.close()
    await B.close()
    return "checked %s; not announced: %s" % (",".join(checked) or "-", ",".join(skipped) or "-")


ROLES = {
    "scenario": role_scenario,
    "callee": role_callee,
    "caller": role_caller,
    "subscriber": role_subscriber,
    "publisher": role_publisher,
    "shutdown": role_shutdown,
    "advanced": role_advanced,
}


async def main():
    where = OPT.url if not OPT.unix else "unix:" + OPT.unix
    log("connecting to %s, realm %s, prefix %s" % (where, OPT.realm, OPT.prefix))
    try:
        msg = await ROLES[OPT.role]()
    except Failed as e:
        finish(False, "%s (step: %s)" % (e, STEP[0]))
    except ApplicationError as e:
        finish(False, "unexpected %s (step: %s)" % (describe(e), STEP[0]))
    except BaseException as e:
        finish(False, "unexpected exception (step: %s): %s" % (STEP[0], traceback.format_exc()))
    finish(True, msg)


def run():
    txaio.start_logging(level=OPT.log_level)
    if OPT.framework == "asyncio":
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        txaio.config.loop = loop
        loop.run_until_complete(main())
    else:
        from twisted.internet import task
        task.react(lambda reactor: defer.ensureDeferred(main()))
    finish(False, "event loop ended without a result")


if __name__ == "__main__":
    run()
