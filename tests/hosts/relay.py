"""A delaying TCP relay: the harness's stand-in for `tc qdisc … netem delay 50ms 10ms`, which this
kernel lacks. Run on the services host, it listens beside each service and forwards to it; what
a service sends back waits DELAY ± JITTER seconds (uniform, order kept, as netem on the services
host's link would), and so does a new connection before its first byte reaches the service (the
handshake's round trip). Requests go through at once, so every round trip takes DELAY ± JITTER
more. Bytes pass through unchanged: the clients speak Redis, PostgreSQL and S3 as they would.

    python -m tests.hosts.relay --delay 0.05 --jitter 0.01 IP:PORT=IP:PORT [...]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys

CHUNK = 65536


def _delay(args) -> float:
    return max(0.0, random.uniform(args.delay - args.jitter, args.delay + args.jitter))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay=None) -> None:
    """Copy until EOF; with ``delay``, each chunk leaves ``delay()`` seconds after it arrived, never
    before the chunk ahead of it (jitter must not reorder a byte stream)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def send() -> None:
        while (item := await queue.get()) is not None:
            due, data = item
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    sender = asyncio.create_task(send())
    last_due = 0.0
    try:
        while data := await reader.read(CHUNK):
            last_due = max(last_due, loop.time() + (delay() if delay else 0.0))
            queue.put_nowait((last_due, data))
    except OSError:
        pass
    finally:
        queue.put_nowait(None)
        try:
            await sender
        except OSError:
            pass


async def _serve(client_r, client_w, target: tuple[str, int], args) -> None:
    try:
        await asyncio.sleep(_delay(args))
        up_r, up_w = await asyncio.open_connection(*target)
    except OSError:
        client_w.close()
        return
    try:
        await asyncio.gather(_pump(client_r, up_w), _pump(up_r, client_w, lambda: _delay(args)))
    finally:
        for w in (up_w, client_w):
            w.close()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, required=True, help="seconds")
    parser.add_argument("--jitter", type=float, default=0.0, help="± seconds, uniform")
    parser.add_argument("routes", nargs="+", help="LISTEN_IP:PORT=TARGET_IP:PORT")
    args = parser.parse_args(argv)
    servers = []
    for route in args.routes:
        listen, _, target = route.partition("=")
        to = _address(target)
        servers.append(
            await asyncio.start_server(
                lambda r, w, to=to: _serve(r, w, to, args), *_address(listen), reuse_address=True
            )
        )
        delay = f"{args.delay * 1000:.0f} ± {args.jitter * 1000:.0f} ms"
        print(f"relay: {listen} -> {target}, {delay}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1:]))
    except KeyboardInterrupt:
        pass
