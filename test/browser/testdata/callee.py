#!/usr/bin/python3
"""An autobahn-python callee for the console's browser tests.

    /usr/bin/python3 callee.py ws://127.0.0.1:PORT/ REALM

Registers com.example.py.add (a + b) and com.example.py.countdown (sends
N..1 as progressive results, then "liftoff"), prints READY, and serves
until it is terminated or 60 s pass.
"""

import asyncio
import sys

import txaio
from autobahn.asyncio.component import Component
from autobahn.wamp.types import RegisterOptions

url, realm = sys.argv[1], sys.argv[2]
comp = Component(transports=[{"type": "websocket", "url": url, "serializers": ["json"], "max_retries": 0}], realm=realm)


def add(a, b):
    return a + b


async def countdown(n, details=None):
    for i in range(n, 0, -1):
        if details is not None and details.progress:
            details.progress(i)
        await asyncio.sleep(0.01)
    return "liftoff"


@comp.on_join
async def joined(session, details):
    await session.register(add, "com.example.py.add")
    await session.register(countdown, "com.example.py.countdown", options=RegisterOptions(details_arg="details"))
    print("READY", flush=True)
    asyncio.get_event_loop().call_later(60, lambda: session.leave())


if __name__ == "__main__":
    # (autobahn 22.7's asyncio run() uses asyncio.coroutine, which Python
    # 3.11 removed: drive the component on a loop of our own.)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    txaio.use_asyncio()
    txaio.config.loop = loop
    txaio.start_logging(level="warn")
    done = comp.start(loop=loop)
    done.add_done_callback(lambda f: loop.stop())
    loop.run_forever()
    if done.done() and done.exception() is not None:
        print("callee failed:", done.exception(), file=sys.stderr)
        sys.exit(1)
