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
Authentication (every session of the process): --authmethod ticket|wampcra|cryptosign|scram|none
                --authid AUTHID --secret SECRET (ticket, password, or hex cryptosign seed)
Every option can also be given as an environment variable SY_<OPTION> (e.g. SY_URL).

Roles (same meaning as in ../js/client.js):
  scenario    two sessions: RPC (args, kwargs, binary, errors) and PubSub (ack, exclude_me)
  callee      register PREFIX.bin_echo, print READY, serve COUNT calls, exit
  caller      call PREFIX.bin_echo with a binary and check the binary answer (or, with
              --expect-error, that the call fails with that error URI)
  subscriber  subscribe PREFIX.fanout, print READY, wait for one event from each EXPECT name
  publisher   publish one event to PREFIX.fanout (acknowledged) as NAME
  shutdown    join, print READY, expect the router to end the session with wamp.close.system_shutdown
  advanced    Advanced Profile features the router announces in WELCOME: pattern-based subscriptions
              and registrations (with precedence), shared registrations (roundrobin over 2 and 3
              callees, first, last), progressive results, call canceling (INTERRUPT to the callee,
              also mid-progress), call timeout, caller/publisher identification (--disclosed 1: the
              role discloses them; 0: nothing is disclosed), black/white listing (every option and
              combinations, against a reference model), session meta API (count, list, get, on_join,
              on_leave, kill, kill_by_authid), registration meta API
  interruptible  register PREFIX.hang (answers only an INTERRUPT, with itest.error.interrupted;
              Twisted only) and PREFIX.hang_stats, print READY, exit after COUNT INTERRUPTs
  auth        join with --authmethod; check WELCOME's authid/authrole/authmethod (--expect-authid,
              --expect-authrole) and then --plan, a list of ACTION:URI:allow|deny[:FLAGS] run by this
              session with a helper session (--helper-authid/--helper-secret, ticket) on the other
              side; or, with --expect-abort URI, that the router refuses the session with that reason
  regtarget   register PREFIX.regmeta (roundrobin), print TARGET <session> <registration> and READY,
              serve COUNT calls, leave
  regmeta     --expect SESSION,REGISTRATION: the registration meta API (lookup, match, get, list,
              list_callees, count_callees) sees regtarget's registration on another node; call it once;
              the registration then goes from the meta API

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
                   choices=["scenario", "callee", "caller", "subscriber", "publisher", "shutdown", "advanced", "auth", "interruptible",
                            "killtarget", "killer", "regtarget", "regmeta"])
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
    # Authentication (every session of the process uses it, except the auth role's helper).
    p.add_argument("--authmethod", default=env("authmethod", ""),
                   choices=["", "none", "anonymous", "ticket", "wampcra", "cryptosign", "scram"],
                   help="authenticate with this method (\"\"/none: offer no method, i.e. anonymous)")
    p.add_argument("--authid", default=env("authid", ""))
    p.add_argument("--secret", default=env("secret", ""),
                   help="ticket, WAMP-CRA password, SCRAM password, or cryptosign private key (hex seed)")
    p.add_argument("--expect-authid", default=env("expect_authid", ""), help="auth: WELCOME.authid (default --authid)")
    p.add_argument("--expect-authrole", default=env("expect_authrole", ""), help="auth: WELCOME.authrole")
    p.add_argument("--expect-abort", default=env("expect_abort", ""),
                   help="auth: joining must fail with ABORT of this reason")
    p.add_argument("--helper-authid", default=env("helper_authid", ""),
                   help="auth: ticket principal of the helper session that checks the other side of each action")
    p.add_argument("--helper-secret", default=env("helper_secret", ""))
    p.add_argument("--plan", default=env("plan", ""),
                   help="auth: ACTION:URI:allow|deny[:FLAG+FLAG],... ACTION is call|register|publish|subscribe; "
                        "FLAG disclosed (the helper must see who called/published) or bare (no helper side)")
    p.add_argument("--disclosed", default=env("disclosed", "0"), choices=["0", "1"],
                   help="advanced: the role discloses callers and publishers (1), or nothing (0)")
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


def authentication(method, authid, secret):
    """The Component's authentication config for one method (None: offer no method)."""
    if method in ("", "none"):
        return None
    cfg = {}
    if authid:
        cfg["authid"] = authid
    if method == "anonymous":
        pass
    elif method == "ticket":
        cfg["ticket"] = secret
    elif method == "wampcra":
        # AuthWampCra derives the salted key itself (autobahn.wamp.auth.derive_key) from the
        # salt, iterations and keylen the router puts in the CHALLENGE.
        cfg["secret"] = secret
    elif method == "cryptosign":
        cfg["privkey"] = secret  # hex seed; AuthCryptoSign sends authextra.pubkey
    elif method == "scram":
        cfg["password"] = secret  # AuthScram: authmethod "scram", kdf argon2id-13 or pbkdf2
    else:
        raise Failed("unknown authmethod %r" % method)
    return {method: cfg}


def default_authentication():
    return authentication(OPT.authmethod, OPT.authid, OPT.secret)


class Peer(object):
    """One WAMP session driven through autobahn's Component (no reconnects)."""

    def __init__(self, label, allow_close=False, auth="default"):
        self.label = label
        self.allow_close = allow_close
        self.session = None
        self.details = None  # SessionDetails from WELCOME
        self.leave_details = None
        self.disconnected = False
        self.closing = False
        self.connect_errors = []
        self.done_error = None
        self.finished = False
        if auth == "default":
            auth = default_authentication()
        self.comp = Component(transports=[transport_config()], realm=OPT.realm, authentication=auth)
        self.comp.on("join", self._on_join)
        self.comp.on("leave", self._on_leave)
        self.comp.on("disconnect", self._on_disconnect)
        self.comp.on("connectfailure", self._on_connectfailure)

    def _on_join(self, session, details):
        self.details = details
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

    async def open_expect_abort(self):
        """Starts the session expecting the router to refuse it; returns ABORT's (reason, message)."""
        self.allow_close = True
        if OPT.framework == "asyncio":
            done = self.comp.start(loop=asyncio.get_event_loop())
        else:
            from twisted.internet import reactor
            done = self.comp.start(reactor)
        txaio.add_callbacks(done, self._done_ok, self._done_err)
        await wait_until(lambda: self.session is not None or self.leave_details is not None or self.finished,
                         "%s: WELCOME or ABORT" % self.label)
        if self.session is not None:
            d = self.details
            self.closing = True
            self.session.leave()
            raise Failed("%s: joined (authid=%s authrole=%s authmethod=%s) but the router should have refused" % (
                self.label, d.authid, d.authrole, d.authmethod))
        if self.leave_details is None:
            why = ["connect error: %s" % describe(e) for e in self.connect_errors]
            if self.done_error is not None:
                why.append(describe(self.done_error))
            raise Failed("%s: no ABORT; the connection ended: %s" % (self.label, "; ".join(why) or "?"))
        return self.leave_details.reason, self.leave_details.message

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


async def role_killtarget():
    """Subscribes to PREFIX.watched, prints TARGET <session> <subscription> and waits to be killed
    from another node of a cluster (cluster_test.go)."""
    peer = Peer("target", allow_close=True)
    s = await peer.open()
    sub = await s.subscribe(lambda *a, **kw: None, OPT.prefix + ".watched")
    OUT.write("TARGET %d %d\n" % (s._session_id, sub.id))
    OUT.flush()
    ready()
    at("subscribed to %s.watched; waiting to be killed" % OPT.prefix)
    await wait_until(lambda: peer.leave_details is not None or peer.disconnected, "the kill", OPT.timeout)
    check(peer.leave_details is not None, "router closed the transport without GOODBYE")
    check_equal([peer.leave_details.reason, peer.leave_details.message],
                ["com.interop.kicked", "from another node"], "GOODBYE [reason, message]")
    return "killed from another node with %s" % peer.leave_details.reason


async def role_killer():
    """--expect SESSION,SUBSCRIPTION: the meta API on this node sees the session and subscription
    of another node, and wamp.session.kill ends that session."""
    target, subid = [int(x) for x in OPT.expect.split(",")]
    peer = Peer("killer")
    s = await peer.open()
    at("wamp.subscription.lookup(%s.watched)" % OPT.prefix)
    check_equal(await s.call("wamp.subscription.lookup", OPT.prefix + ".watched"), subid, "lookup")
    check_equal(await s.call("wamp.subscription.list_subscribers", subid), [target], "list_subscribers")
    at("wamp.session.get(%d)" % target)
    got = await s.call("wamp.session.get", target)
    check_equal(got.get("session"), target, "session.get")
    at("wamp.session.kill(%d)" % target)
    await s.call("wamp.session.kill", target, reason="com.interop.kicked", message="from another node")
    at("wamp.session.kill(%d) again" % target)
    try:
        await s.call("wamp.session.kill", target)
        raise Failed("killing a killed session succeeded")
    except ApplicationError as e:
        check_equal(e.error, "wamp.error.no_such_session", "second kill")
    await peer.close()
    return "looked up subscription %d and killed session %d on another node" % (subid, target)


async def role_regtarget():
    """Registers PREFIX.regmeta (roundrobin), prints TARGET <session> <registration>, serves
    COUNT calls and leaves (cluster_test.go: the registration meta API seen from another node)."""
    peer = Peer("regtarget")
    s = await peer.open()
    served = [0]

    def regmeta(*args):
        served[0] += 1
        return "served"

    reg = await s.register(regmeta, OPT.prefix + ".regmeta", options=RegisterOptions(invoke="roundrobin"))
    OUT.write("TARGET %d %d\n" % (s._session_id, reg.id))
    OUT.flush()
    ready()
    at("registered %s.regmeta; serving %d call(s)" % (OPT.prefix, OPT.count))
    while served[0] < OPT.count:
        await sleep(0.02)
    await sleep(0.05)
    await peer.close()
    return "served %d call(s)" % served[0]


async def role_regmeta():
    """--expect SESSION,REGISTRATION: the registration meta API on this node sees the
    registration and callee of another node; then one call releases the callee, and its
    registration goes from every node's meta API."""
    target, regid = [int(x) for x in OPT.expect.split(",")]
    proc = OPT.prefix + ".regmeta"
    peer = Peer("regmeta")
    s = await peer.open()
    at("wamp.registration.lookup(%s)" % proc)
    check_equal(await s.call("wamp.registration.lookup", proc), regid, "lookup")
    check_equal(await s.call("wamp.registration.match", proc + ".x"), None, "match of another URI")
    check_equal(await s.call("wamp.registration.match", proc), regid, "match")
    at("wamp.registration.get(%d)" % regid)
    got = await s.call("wamp.registration.get", regid)
    check_equal([got.get("id"), got.get("uri"), got.get("match"), got.get("invoke")],
                [regid, proc, "exact", "roundrobin"], "get")
    check_equal(await s.call("wamp.registration.list_callees", regid), [target], "list_callees")
    check_equal(await s.call("wamp.registration.count_callees", regid), 1, "count_callees")
    listed = await s.call("wamp.registration.list")
    check(regid in listed.get("exact", []), "list().exact holds %d: %s" % (regid, listed))
    at("call %s" % proc)
    check_equal(await s.call(proc), "served", "call answered by the callee on the other node")
    at("wait for %s to go from the meta API" % proc)
    gone = [False]
    deadline = time.monotonic() + 10
    while not gone[0] and time.monotonic() < deadline:
        gone[0] = await s.call("wamp.registration.lookup", proc) is None
        if not gone[0]:
            await sleep(0.05)
    check(gone[0], "lookup(%s) still finds the registration after its callee left" % proc)
    try:
        await s.call("wamp.registration.get", regid)
        raise Failed("get of a deleted registration succeeded")
    except ApplicationError as e:
        check_equal(e.error, "wamp.error.no_such_registration", "get after the callee left")
    await peer.close()
    return "saw registration %d of session %d on another node" % (regid, target)


def is_cancelled(e):
    """The error a caller's cancelled call fails with (asyncio or Twisted)."""
    if OPT.framework == "asyncio":
        return isinstance(e, asyncio.CancelledError)
    return isinstance(e, defer.CancelledError)


async def expect_cancelled(call, what):
    try:
        res = await call
    except BaseException as e:
        if is_cancelled(e):
            return
        raise Failed("%s: expected the call to end cancelled, got %s" % (what, describe(e)))
    raise Failed("%s: expected the call to end cancelled, got result %s" % (what, fx.show(res)))


def interruptible(state, key="interrupted"):
    """A pending future for a callee to return: cancelling it (what autobahn does on INTERRUPT)
    records the time in state[key]."""
    return txaio.create_future(canceller=lambda _f: state.setdefault(key, time.monotonic()))


def bw_receives(sub, opts):
    """Reference model of subscriber black/whitelisting: every given rule must hold."""
    rules = [
        ("eligible", lambda v: sub.session in v), ("eligible_authid", lambda v: sub.authid in v),
        ("eligible_authrole", lambda v: sub.authrole in v), ("exclude", lambda v: sub.session not in v),
        ("exclude_authid", lambda v: sub.authid not in v), ("exclude_authrole", lambda v: sub.authrole not in v),
    ]
    return all(ok(opts[k]) for k, ok in rules if k in opts)


async def role_advanced():
    """Advanced Profile features, each checked only if the router announces it in WELCOME."""
    P = OPT.prefix
    disclosed = OPT.disclosed == "1"
    at("open sessions A and B")
    A = Peer("A")
    a = await A.open()
    B = Peer("B")
    b = await B.open()
    ia, ib = A.details, B.details
    log("A: session %s authid %r authrole %r; B: session %s authid %r authrole %r" % (
        ia.session, ia.authid, ia.authrole, ib.session, ib.authid, ib.authrole))
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

        def answer(name):
            def h(*args, details=None, **kwargs):
                hits.append((name, details.procedure))
                return name
            return h

        await a.register(answer("prefix"), P + ".rpc", options=RegisterOptions(match="prefix", details_arg="details"))
        await a.register(answer("exact"), P + ".rpc.foo.exact", options=RegisterOptions(details_arg="details"))
        check_equal(await b.call(P + ".rpc.foo.bar"), "prefix", "prefix registration answers")
        check_equal(await b.call(P + ".rpc.foo.exact"), "exact", "exact registration wins over prefix")
        check_equal(hits[0], ("prefix", P + ".rpc.foo.bar"), "INVOCATION.Details.procedure for a prefix match")

        # Precedence: exact, then the longest prefix, then the wildcard whose concrete components
        # come first; INVOCATION.Details.procedure is always the concrete URI. Prefixes are string
        # prefixes (the spec's com.myapp.myobject1 matches com.myapp.myobject1-mysubobject1.x).
        await a.register(answer("short"), P + ".rp", options=RegisterOptions(match="prefix", details_arg="details"))
        await a.register(answer("long"), P + ".rp.a", options=RegisterOptions(match="prefix", details_arg="details"))
        await b.register(answer("w_late"), P + ".wc..x.end",
                         options=RegisterOptions(match="wildcard", details_arg="details"))
        await b.register(answer("w_early"), P + ".wc.k..end",
                         options=RegisterOptions(match="wildcard", details_arg="details"))
        del hits[:]
        for uri, want in [(P + ".rp.a.b", "long"), (P + ".rp.b", "short"), (P + ".rp.ab", "long"),
                          (P + ".wc.k.x.end", "w_early"), (P + ".wc.j.x.end", "w_late"), (P + ".wc.k.y.end", "w_early")]:
            check_equal(await a.call(uri), want, "registration chosen for %s" % uri)
            check_equal(hits[-1], (want, uri), "INVOCATION.Details.procedure for %s" % uri)
        await expect_call_error(a, P + ".wc.j.y.end", [], {}, "wamp.error.no_such_procedure")

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

        # Three callees on three sessions: each gets every third call, in a fixed rotation; when one
        # unregisters, the other two share the calls.
        C = Peer("C (callee)")
        c = await C.open()
        regs = {}
        for name, s in (("A", a), ("B", b), ("C", c)):
            regs[name] = await s.register(lambda n=name: n, P + ".rr3", options=RegisterOptions(invoke="roundrobin"))
        res = [await a.call(P + ".rr3") for _ in range(9)]
        check_equal(sorted(res), sorted(["A", "B", "C"] * 3), "roundrobin spreads 9 calls over 3 callees")
        check(res[3:6] == res[0:3] and res[6:9] == res[0:3] and len(set(res[0:3])) == 3,
              "roundrobin rotates through all 3 callees in a fixed order (got %r)" % res)
        await regs["B"].unregister()
        res = [await a.call(P + ".rr3") for _ in range(4)]
        check_equal(sorted(res), ["A", "A", "C", "C"], "roundrobin over the 2 callees left after B unregistered")
        check(res[0] != res[1] and res[1] != res[2], "roundrobin alternates after an unregister (got %r)" % res)

        # first / last: always the earliest / latest registration still there.
        for name, s in (("A", a), ("B", b), ("C", c)):
            await s.register(lambda n=name: n, P + ".first", options=RegisterOptions(invoke="first"))
            await s.register(lambda n=name: n, P + ".last", options=RegisterOptions(invoke="last"))
        check_equal([await b.call(P + ".first") for _ in range(3)], ["A"] * 3, "invoke=first picks the first callee")
        check_equal([await b.call(P + ".last") for _ in range(3)], ["C"] * 3, "invoke=last picks the last callee")
        await C.close()
        check_equal([await b.call(P + ".last") for _ in range(2)], ["B"] * 2,
                    "invoke=last after the last callee left")

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

    if announced(dealer, "call_canceling"):
        # autobahn cancels a call when its Future/Deferred is cancelled: it sends CANCEL (no mode:
        # the router's default, killnowait), and a callee gets INTERRUPT as the cancellation of
        # the Future/Deferred its endpoint returned.
        state = {}
        invoked = []

        def hang(details=None):
            invoked.append(details)
            return interruptible(state)

        await a.register(hang, P + ".hang", options=RegisterOptions(details_arg="details"))
        call = b.call(P + ".hang")
        await wait_until(lambda: invoked, "the INVOCATION of %s.hang" % P)
        t0 = time.monotonic()
        txaio.cancel(call)
        await expect_cancelled(call, "cancelled call")
        await wait_until(lambda: "interrupted" in state, "the callee to get INTERRUPT after CANCEL", 5)
        log("callee interrupted %.3fs after the caller cancelled" % (state["interrupted"] - t0))
        check_equal(await b.call(P + ".progress", 1, options=CallOptions(on_progress=lambda *args: None)), "done",
                    "the callee still answers other calls after an INTERRUPT")

        if getattr(dealer, "progressive_call_results", None):
            # A progressive call cancelled mid-stream: the callee stops on INTERRUPT; the caller got
            # a gap-free sequence of progressive results before it.
            tstate = {"sent": 0}

            def ticker(details=None):
                f = interruptible(tstate)

                def tick():
                    if txaio.is_called(f):
                        return
                    tstate["sent"] += 1
                    details.progress(tstate["sent"])
                    txaio.call_later(0.02, tick)

                tick()
                return f

            await a.register(ticker, P + ".ticker", options=RegisterOptions(details_arg="details"))
            ticks = []
            call = b.call(P + ".ticker", options=CallOptions(on_progress=lambda i: ticks.append(i)))
            await wait_until(lambda: len(ticks) >= 3, "3 progressive results")
            txaio.cancel(call)
            await expect_cancelled(call, "cancelled progressive call")
            await wait_until(lambda: "interrupted" in tstate, "the progressive callee to get INTERRUPT", 5)
            sent = tstate["sent"]
            await sleep(0.2)
            check_equal(tstate["sent"], sent, "progressive results the callee sent after INTERRUPT")
            check_equal(ticks, list(range(1, len(ticks) + 1)), "progressive results before the cancel, in order")

    if announced(dealer, "call_timeout"):
        state = {}

        def slow():
            f = interruptible(state)
            txaio.call_later(3, lambda: txaio.is_called(f) or txaio.resolve(f, "late"))
            return f

        await a.register(slow, P + ".slow")
        t0 = time.monotonic()
        # autobahn-python puts CallOptions.timeout on the wire as is (its docstring says seconds):
        # WAMP wants milliseconds.
        await expect_call_error(b, P + ".slow", [], {"options": CallOptions(timeout=300)}, "wamp.error.timeout")
        took = time.monotonic() - t0
        check(took < 2.5, "timeout answered after %.2fs (want ~0.3s)" % took)
        if getattr(dealer, "call_canceling", None):
            # The dealer cancels the timed-out invocation: killnowait INTERRUPT to a callee that
            # supports canceling.
            await wait_until(lambda: "interrupted" in state, "the callee to get INTERRUPT after the timeout", 2)

    if announced(broker, "publisher_identification") and announced(dealer, "caller_identification"):
        # autobahn-python never sends disclose_me: identities are disclosed when the role says so
        # (--disclosed 1), and never otherwise.
        events, invocations = [], []
        await a.subscribe(lambda *args, details=None: events.append(details), P + ".ident",
                          options=SubscribeOptions(details_arg="details"))
        await a.register(lambda details=None: invocations.append(details) or "ok", P + ".ident_rpc",
                         options=RegisterOptions(details_arg="details"))
        await b.publish(P + ".ident", "hello", options=PublishOptions(acknowledge=True))
        check_equal(await b.call(P + ".ident_rpc"), "ok", "call of .ident_rpc")
        await wait_until(lambda: events, "the event on .ident")
        want = [ib.session, ib.authid, ib.authrole] if disclosed else [None, None, None]
        ev, inv = events[0], invocations[0]
        check_equal([ev.publisher, ev.publisher_authid, ev.publisher_authrole], want,
                    "EVENT.Details publisher/publisher_authid/publisher_authrole (disclosed=%s)" % disclosed)
        check_equal([inv.caller, inv.caller_authid, inv.caller_authrole], want,
                    "INVOCATION.Details caller/caller_authid/caller_authrole (disclosed=%s)" % disclosed)

    if announced(broker, "subscriber_blackwhite_listing"):
        got_a, got_b = [], []
        await a.subscribe(lambda *args: got_a.append(args[0]), P + ".bw")
        await b.subscribe(lambda *args: got_b.append(args[0]), P + ".bw")
        C = Peer("C (publisher)")
        c = await C.open()
        sa, sb = a._session_id, b._session_id
        cases = [
            {"eligible": [sa]},
            {"exclude": [sa]},
            {"eligible": [sa, sb], "exclude": [sb]},
            {"eligible_authid": [ia.authid]},
            {"exclude_authid": [ia.authid]},
            {"eligible_authid": [ia.authid, ib.authid], "exclude_authid": [ib.authid]},
            {"eligible_authrole": [ia.authrole]},
            {"exclude_authrole": [ia.authrole]},
            {"exclude_authrole": ["itest_no_such_role"]},
            {"eligible_authrole": [ib.authrole], "exclude": [sb]},
            {"eligible": [sa], "eligible_authid": [ib.authid]},
            {"eligible": [sa, sb], "eligible_authid": [ia.authid, ib.authid],
             "eligible_authrole": [ia.authrole], "exclude": [sa]},
            {},
        ]
        want_a, want_b = [], []
        for i, opts in enumerate(cases):
            label = "case%d" % i
            await c.publish(P + ".bw", label, options=PublishOptions(acknowledge=True, **opts))
            if bw_receives(ia, opts):
                want_a.append(label)
            if bw_receives(ib, opts):
                want_b.append(label)
        # The last case has no rules: both get it, and events arrive in order.
        last = "case%d" % (len(cases) - 1)
        await wait_until(lambda: last in got_a and last in got_b, "the unrestricted event")
        await sleep(0.1)
        for who, got, want in (("A", got_a, want_a), ("B", got_b, want_b)):
            if got != want:
                raise Failed("black/white-listed events received by %s:\n  got:  %s\n  want: %s\n  cases: %s" % (
                    who, got, want, "; ".join("case%d=%s" % (i, c) for i, c in enumerate(cases))))
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
        check_equal([info.get("authid"), info.get("authrole")], [ia.authid, ia.authrole],
                    "wamp.session.get authid/authrole")
        await expect_call_error(b, "wamp.session.get", [123], {}, "wamp.error.no_such_session")

        # on_join / on_leave for a session D that B then kills with a reason and a message.
        joins, leaves = [], []
        await a.subscribe(lambda *args: joins.append(args), "wamp.session.on_join")
        await a.subscribe(lambda *args: leaves.append(args), "wamp.session.on_leave")
        D = Peer("D (killed)", allow_close=True)
        await D.open()
        idd = D.details
        await wait_until(lambda: any(j and isinstance(j[0], dict) and j[0].get("session") == idd.session for j in joins),
                         "wamp.session.on_join for D (got %s)" % fx.show([list(j) for j in joins])[:300])
        j = [j[0] for j in joins if isinstance(j[0], dict) and j[0].get("session") == idd.session][0]
        check_equal([j.get("authid"), j.get("authrole")], [idd.authid, idd.authrole], "on_join authid/authrole of D")
        ids = await b.call("wamp.session.list")
        check(idd.session in ids, "wamp.session.list includes D")
        await b.call("wamp.session.kill", idd.session, reason="itest.close.kicked", message="kicked by B")
        await wait_until(lambda: D.leave_details is not None, "D to be closed by wamp.session.kill")
        check_equal([D.leave_details.reason, D.leave_details.message], ["itest.close.kicked", "kicked by B"],
                    "GOODBYE reason and message D got")
        await wait_until(lambda: any(x and x[0] == idd.session for x in leaves), "wamp.session.on_leave for D")
        lv = [list(x) for x in leaves if x and x[0] == idd.session][0]
        check_equal(lv, [idd.session, idd.authid, idd.authrole], "wamp.session.on_leave args (session, authid, authrole)")
        await expect_call_error(b, "wamp.session.get", [idd.session], {}, "wamp.error.no_such_session")
        await expect_call_error(b, "wamp.session.kill", [idd.session], {}, "wamp.error.no_such_session")

        # E gets an authid of its own: anonymous sessions get a random one; authenticated runs
        # pass the credentials of a principal nothing else uses as --helper-authid/--helper-secret.
        E = Peer("E (killed by authid)", allow_close=True,
                 auth=authentication("ticket", OPT.helper_authid, OPT.helper_secret) if OPT.helper_authid else "default")
        await E.open()
        ie = E.details
        if ie.authid not in (ia.authid, ib.authid):
            killed = await b.call("wamp.session.kill_by_authid", ie.authid)
            check_equal(killed, [ie.session], "wamp.session.kill_by_authid returns the killed session")
            await wait_until(lambda: E.leave_details is not None, "E to be closed by kill_by_authid")
            check_equal(E.leave_details.reason, "wamp.close.killed", "GOODBYE reason E got (the default)")
        else:
            log("E shares its authid with A or B: wamp.session.kill_by_authid not checked")
            await E.close()

    if announced(dealer, "registration_meta_api"):
        reg = await a.register(lambda: None, P + ".meta")
        rid = await b.call("wamp.registration.lookup", P + ".meta")
        check_equal(rid, reg.id, "wamp.registration.lookup returns the registration ID")

    at("close")
    await A.close()
    await B.close()
    return "checked %s; not announced: %s" % (",".join(checked) or "-", ",".join(skipped) or "-")


async def role_interruptible():
    """Registers PREFIX.hang, which never answers by itself: on INTERRUPT (its Future/Deferred
    cancelled) it fails with itest.error.interrupted (Twisted only: an asyncio Future is already
    cancelled by then, and autobahn then sends nothing). PREFIX.hang_stats returns [invocations,
    interrupts]. Exits after COUNT interrupts."""
    peer = Peer("callee")
    s = await peer.open()
    state = {"invoked": 0, "interrupted": 0}

    def hang(*args, **kwargs):
        state["invoked"] += 1
        log("invocation %d of .hang" % state["invoked"])

        def on_interrupt(f):
            state["interrupted"] += 1
            log("INTERRUPT %d" % state["interrupted"])
            if OPT.framework == "twisted":
                f.errback(ApplicationError("itest.error.interrupted", "the callee stopped on INTERRUPT"))

        return txaio.create_future(canceller=on_interrupt)

    await s.register(hang, OPT.prefix + ".hang")
    await s.register(lambda: [state["invoked"], state["interrupted"]], OPT.prefix + ".hang_stats")
    ready()
    at("registered %s.hang; waiting for %d INTERRUPT(s)" % (OPT.prefix, OPT.count))
    await wait_until(lambda: state["interrupted"] >= OPT.count, "%d INTERRUPT(s)" % OPT.count, OPT.timeout)
    await sleep(0.3)  # the caller asks for hang_stats
    await peer.close()
    return "%d invocation(s), %d INTERRUPT(s)" % (state["invoked"], state["interrupted"])


NOT_AUTHORIZED = "wamp.error.not_authorized"


async def expect_error(what, make, want_uri):
    """Awaits make() and checks that it fails with the WAMP error want_uri."""
    try:
        res = await make()
    except ApplicationError as e:
        check_equal(e.error, want_uri, "error URI of %s" % what)
        return e
    raise Failed("%s: expected WAMP error %s, got success %s" % (what, want_uri, fx.show(res)))


def parse_plan(text):
    steps = []
    for item in [x for x in text.split(",") if x]:
        parts = item.split(":")
        if len(parts) not in (3, 4) or parts[0] not in ("call", "register", "publish", "subscribe") \
                or parts[2] not in ("allow", "deny"):
            raise Failed("bad --plan step %r" % item)
        flags = set(parts[3].split("+")) if len(parts) == 4 else set()
        steps.append((parts[0], parts[1], parts[2] == "allow", flags))
    return steps


def check_identity(details, who, t_info, disclosed, kind):
    """kind "caller" or "publisher": checks the INVOCATION/EVENT details disclose t exactly when they should."""
    got = [getattr(details, kind, None), getattr(details, kind + "_authid", None),
           getattr(details, kind + "_authrole", None)]
    if disclosed:
        check_equal(got, [t_info.session, t_info.authid, t_info.authrole],
                    "%s disclosed to the %s ([%s, %s_authid, %s_authrole])" % (kind, who, kind, kind, kind))
    else:
        check_equal(got, [None, None, None], "%s not disclosed to the %s" % (kind, who))


async def run_plan(h, t, t_info, steps):
    """Runs each action as the tested session t; the helper h (allowed everything) plays the other
    side, so that an allowed action is shown to work end to end and a denied one to have no effect."""
    tag = OPT.name
    for action, uri, allow, flags in steps:
        bare = "bare" in flags
        disclosed = "disclosed" in flags
        at("%s %s: expect %s%s" % (action, uri, "allowed" if allow else "not_authorized",
                                     " (" + "+".join(sorted(flags)) + ")" if flags else ""))
        if action == "call":
            seen = []

            def on_call(*args, details=None, **kwargs):
                seen.append(details)
                return ["ok", uri]

            reg = None if bare else await h.register(on_call, uri, options=RegisterOptions(details_arg="details"))
            if allow:
                # (no arguments when bare: the procedure may be the router's, wamp.session.count say)
                res = await (t.call(uri) if bare else t.call(uri, tag))
                log("result: %s" % fx.show(res)[:200])
                if not bare:
                    check_equal(res, ["ok", uri], "result of call %s" % uri)
                    check_equal(len(seen), 1, "invocations of the helper's %s" % uri)
                    check_identity(seen[0], "callee", t_info, disclosed, "caller")
            else:
                await expect_error("call %s" % uri, lambda: t.call(uri) if bare else t.call(uri, tag), NOT_AUTHORIZED)
                check_equal(len(seen), 0, "invocations of the helper's %s after a denied call" % uri)
            if reg is not None:
                await reg.unregister()
        elif action == "register":
            def on_inv(*args, **kwargs):
                return ["served", tag]

            if allow:
                reg = await t.register(on_inv, uri)
                check_equal(await h.call(uri), ["served", tag], "helper's call of %s registered by the tested session" % uri)
                await reg.unregister()
            else:
                await expect_error("register %s" % uri, lambda: t.register(on_inv, uri), NOT_AUTHORIZED)
        elif action == "publish":
            got = []

            def on_event(*args, details=None, **kwargs):
                if args and args[0] == tag:
                    got.append((list(args), details))

            sub = None if bare else await h.subscribe(on_event, uri, options=SubscribeOptions(details_arg="details"))
            if allow:
                pub = await t.publish(uri, tag, uri, options=PublishOptions(acknowledge=True))
                check(pub is not None and pub.id > 0, "publication to %s acknowledged" % uri)
                if not bare:
                    await wait_until(lambda: got, "the helper to receive the event on %s" % uri)
                    check_equal(got[0][0], [tag, uri], "event args")
                    check_identity(got[0][1], "subscriber", t_info, disclosed, "publisher")
            else:
                await expect_error("publish %s" % uri,
                                   lambda: t.publish(uri, tag, uri, options=PublishOptions(acknowledge=True)),
                                   NOT_AUTHORIZED)
                if not bare:
                    await sleep(0.1)
                    check_equal(got, [], "events the helper got after a denied publish to %s" % uri)
            if sub is not None:
                await sub.unsubscribe()
        elif action == "subscribe":
            got = []

            def on_event(*args, **kwargs):
                if args and args[0] == tag:
                    got.append(list(args))

            if allow:
                sub = await t.subscribe(on_event, uri)
                await h.publish(uri, tag, "from helper", options=PublishOptions(acknowledge=True))
                await wait_until(lambda: got, "the tested session to receive the helper's event on %s" % uri)
                check_equal(got[0], [tag, "from helper"], "event args")
                await sub.unsubscribe()
            else:
                await expect_error("subscribe %s" % uri, lambda: t.subscribe(on_event, uri), NOT_AUTHORIZED)


async def role_auth():
    """Authenticates with --authmethod; checks WELCOME, then the --plan of allowed/denied actions.
    With --expect-abort, checks instead that the router refuses the session with that reason."""
    who = "%s as %r" % (OPT.authmethod or "no authmethod", OPT.authid or None)
    if OPT.expect_abort:
        at("join %s with %s: expect ABORT %s" % (OPT.realm, who, OPT.expect_abort))
        reason, message = await Peer("tested").open_expect_abort()
        check_equal(reason, OPT.expect_abort, "ABORT reason (ABORT message: %r)" % (message,))
        return "refused with %s (%s)" % (reason, message)

    at("open the helper session (ticket as %s)" % OPT.helper_authid)
    H = Peer("helper", auth=authentication("ticket", OPT.helper_authid, OPT.helper_secret))
    h = await H.open()
    at("join %s with %s" % (OPT.realm, who))
    T = Peer("tested")
    t = await T.open()
    d = T.details
    log("WELCOME: authid=%r authrole=%r authmethod=%r authprovider=%r authextra=%s" % (
        d.authid, d.authrole, d.authmethod, d.authprovider, fx.show(d.authextra or {})))
    check_equal([d.authid, d.authrole, d.authmethod],
                [OPT.expect_authid or OPT.authid, OPT.expect_authrole, OPT.authmethod],
                "WELCOME [authid, authrole, authmethod]")
    steps = parse_plan(OPT.plan)
    await run_plan(h, t, d, steps)
    at("close")
    await T.close()
    await H.close()
    return "%s: authid=%s authrole=%s, %d action(s) allowed/denied as the role says" % (
        d.authmethod, d.authid, d.authrole, len(steps))


ROLES = {
    "auth": role_auth,
    "interruptible": role_interruptible,
    "scenario": role_scenario,
    "callee": role_callee,
    "caller": role_caller,
    "subscriber": role_subscriber,
    "publisher": role_publisher,
    "shutdown": role_shutdown,
    "advanced": role_advanced,
    "killtarget": role_killtarget,
    "killer": role_killer,
    "regtarget": role_regtarget,
    "regmeta": role_regmeta,
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
