"""Hold every packet of a netfilter queue for a fixed time, then let it go.

This is the `delay` half of `tc qdisc add dev eth0 root netem delay 50ms
loss 1%`. The kernels of these machines are built without sch_netem (`tc`
answers "Specified qdisc kind is unknown"), but with NFQUEUE: the host's
egress rules (network.py) drop 1 % of packets in the kernel (`statistic`
match) and queue the rest to this program, which releases each one, in
order, `--delay-ms` after it arrived. On SIGTERM it lets every held packet
go before it unbinds, so stopping it loses nothing.

Run inside the host's namespace, one per host:
    ip netns exec vcl-app1 python -m tests.cluster.netem --queue 0 --delay-ms 50
"""

from __future__ import annotations

import argparse
import collections
import select
import signal
import time
from types import FrameType

from netfilterqueue import COPY_META, NetfilterQueue, Packet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queue", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, required=True)
    args = parser.parse_args()
    delay = args.delay_ms / 1000
    held: collections.deque[tuple[float, Packet]] = collections.deque()
    stopping = False

    def hold(packet: Packet) -> None:
        held.append((time.monotonic() + delay, packet))

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    queue = NetfilterQueue()
    # Only the verdict matters: the kernel keeps the packet, we get its id.
    queue.bind(args.queue, hold, max_len=20_000, mode=COPY_META)
    descriptor = queue.get_fd()
    print("netem ready", flush=True)
    while not stopping:
        now = time.monotonic()
        while held and held[0][0] <= now:
            held.popleft()[1].accept()
        wait = held[0][0] - now if held else 0.5
        readable, _, _ = select.select([descriptor], [], [], max(wait, 0.0))
        if readable:
            queue.run(block=False)
    for _, packet in held:
        packet.accept()
    queue.unbind()


if __name__ == "__main__":
    main()
