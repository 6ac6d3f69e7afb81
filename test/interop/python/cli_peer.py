#!/usr/bin/python3
"""autobahn-python (Twisted, RawSocket) peer for the CLI interop test (../cli_test.go).

    /usr/bin/python3 cli_peer.py --url rs://127.0.0.1:PORT --realm REALM --authid ID --ticket T \\
        --prefix PREFIX --serializer cbor

It registers PREFIX.mul (a*b; kwargs {"refuse": true} raises com.interop.refused), publishes
[n, "tick"] {"from": "python"} to PREFIX.feed every 100 ms, subscribes to PREFIX.inbox and
prints "INBOX <args as JSON> <kwargs as JSON>" for each event, and calls PREFIX.shout("hi") (a
procedure the CLI registers) until it answers, printing "SHOUT <result as JSON>". It prints
READY once registered and subscribed, and exits 0 on SIGTERM (or 1 after --timeout).
"""

import argparse
import json
import os
import signal
import sys

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--realm", required=True)
p.add_argument("--authid", required=True)
p.add_argument("--ticket", required=True)
p.add_argument("--prefix", required=True)
p.add_argument("--serializer", default="cbor")
p.add_argument("--timeout", type=float, default=60)
OPT = p.parse_args()

import txaio  # noqa: E402
txaio.use_twisted()
from twisted.internet import reactor, task  # noqa: E402
from autobahn.twisted.component import Component  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import PublishOptions  # noqa: E402


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


comp = Component(
    transports=[{"type": "rawsocket", "url": OPT.url, "serializer": OPT.serializer, "max_retries": 0}],
    realm=OPT.realm,
    authentication={"ticket": {"authid": OPT.authid, "ticket": OPT.ticket}},
)


@comp.on_join
async def joined(session, details):
    def mul(a, b, refuse=False):
        if refuse:
            raise ApplicationError("com.interop.refused", "python says no", a=a)
        return a * b

    await session.register(mul, OPT.prefix + ".mul")
    await session.subscribe(lambda *args, **kwargs: out("INBOX %s %s" % (json.dumps(list(args)), json.dumps(kwargs, sort_keys=True))),
                            OPT.prefix + ".inbox")
    out("READY")
    n = [0]

    def tick():
        n[0] += 1
        session.publish(OPT.prefix + ".feed", n[0], "tick", options=PublishOptions(exclude_me=True), **{"from": "python"})

    task.LoopingCall(tick).start(0.1)

    async def shout():
        try:
            res = await session.call(OPT.prefix + ".shout", "hi")
            out("SHOUT " + json.dumps(res))
        except ApplicationError:
            reactor.callLater(0.1, lambda: txaio.as_future(shout))

    await shout()


@comp.on_connectfailure
def failed(comp, e):
    out("FAIL: cannot connect: %s" % e)
    reactor.stop()


signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
reactor.callLater(OPT.timeout, lambda: (out("FAIL: timeout"), os._exit(1)))
comp.start(reactor)
reactor.run()
