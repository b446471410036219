#!/usr/bin/env python3
"""The WAN testbed's delay line: one-way delay and jitter for bridged IPv4 packets, in user space.

For kernels built without the netem qdisc. Runs inside the testbed's switch namespace, bound to
an NFQUEUE queue that an iptables rule of that namespace feeds with every bridged packet:

    iptables -A FORWARD -m physdev --physdev-is-bridged -j NFQUEUE --queue-num 0

Start it (and wait for its ready file) BEFORE adding that rule: packets queued to a queue nobody
is bound to are dropped.

Packets stay in the kernel; only their metadata (about 100 bytes) comes up here, and the packet
goes on when its ACCEPT verdict goes down. A packet that enters the bridge on port P and leaves
on port Q is held for

    delay(P) + delay(Q) + uniform(-jitter(P), +jitter(P)) + uniform(-jitter(Q), +jitter(Q))

so a host's `delay` is the one-way latency of its access link, and RTT(A, B) = 2 (dA + dB).
Packets from P to Q leave in the order they came (jitter never reorders one path).

nfnetlink_queue is spoken directly over an AF_NETLINK socket (Python's standard library only,
no libnetfilter_queue). Usage:

    delay-line.py --ports PORTS.json --ready READY [--queue 0] [--seed N]

PORTS.json: {"ports": {"<bridge port name>": {"delayMs": 25, "jitterMs": 2}, ...}}
READY: written (with our pid) once the queue is bound. SIGTERM or SIGINT: stop, print counters.
"""

import argparse
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time

# linux/netlink.h, linux/netfilter/nfnetlink.h, linux/netfilter/nfnetlink_queue.h
NETLINK_NETFILTER = 12
SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5
SO_RCVBUFFORCE = 33
NLMSG_ERROR = 2
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_IFINDEX_PHYSINDEV = 7
NFQA_IFINDEX_PHYSOUTDEV = 8
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_CFG_F_GSO = 4
NF_ACCEPT = 1

NLMSG_HDR = struct.Struct('=IHHII')  # length, type, flags, seq, port id
ATTR_HDR = struct.Struct('=HH')  # length, type
PACKET_TYPE = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET
VERDICTS_PER_SEND = 128
# metadata of about 100k packets waiting to be read
RCVBUF = 32 << 20


def attr(kind, payload):
    """One netlink attribute, padded to 4 bytes."""
    size = ATTR_HDR.size + len(payload)
    return ATTR_HDR.pack(size, kind) + payload + bytes(-size % 4)


def queue_message(kind, queue, attrs, flags=NLM_F_REQUEST, seq=0):
    """An nfnetlink message of the queue subsystem: netlink header, nfgenmsg, attributes."""
    body = struct.pack('=BB', socket.AF_UNSPEC, 0) + struct.pack('!H', queue) + b''.join(attrs)
    return NLMSG_HDR.pack(NLMSG_HDR.size + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + body


def load_ports(path):
    """ifindex -> (delay s, jitter s) for every port of the file that exists in this namespace."""
    with open(path) as f:
        ports = json.load(f)['ports']
    out = {}
    for name, link in ports.items():
        out[socket.if_nametoindex(name)] = (
            float(link.get('delayMs', 0)) / 1000.0,
            float(link.get('jitterMs', 0)) / 1000.0,
        )
    return out


class DelayLine:
    def __init__(self, queue, ports, rng):
        self.queue = queue
        self.ports = ports
        self.rng = rng
        self.held = []  # heap of (release time, arrival number, packet id)
        self.last = {}  # (in port, out port) -> release time of its last packet
        self.arrivals = 0
        self.counters = {'packets': 0, 'unknownPort': 0, 'maxHeld': 0, 'lateMsMax': 0.0}
        self.running = True
        self.sock = None

    def open(self):
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        s.bind((0, 0))
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
        except OSError:
            # without CAP_NET_ADMIN over the machine (a user namespace): capped by net.core.rmem_max
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            size = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            if size < RCVBUF:
                log(f'receive buffer {size >> 10} KiB only (net.core.rmem_max): bursts may be dropped')
        s.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)
        self.sock = s
        q = self.queue
        self.configure([attr(NFQA_CFG_CMD, struct.pack('!BxH', NFQNL_CFG_CMD_BIND, 0))], 1)
        self.configure(
            [
                attr(NFQA_CFG_PARAMS, struct.pack('!IB', 0, NFQNL_COPY_META)),
                attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack('!I', 100000)),
            ],
            2,
        )
        try:
            # a GSO packet is queued whole rather than cut up first (its payload is never read)
            gso = struct.pack('!I', NFQA_CFG_F_GSO)
            self.configure([attr(NFQA_CFG_FLAGS, gso), attr(NFQA_CFG_MASK, gso)], 3)
        except OSError as e:
            log(f'GSO flag refused ({e.strerror}): going on without it')
        s.setblocking(False)
        log(f'queue {q} bound, {len(self.ports)} ports')

    def configure(self, attrs, seq):
        """Send one config message and wait for its acknowledgement."""
        self.sock.send(queue_message(NFQNL_MSG_CONFIG, self.queue, attrs, NLM_F_REQUEST | NLM_F_ACK, seq))
        reply = self.sock.recv(65536)
        _, kind, _, _, _ = NLMSG_HDR.unpack_from(reply, 0)
        if kind == NLMSG_ERROR:
            (err,) = struct.unpack_from('=i', reply, NLMSG_HDR.size)
            if err != 0:
                raise OSError(-err, os.strerror(-err))

    def receive(self):
        """Take every message waiting on the socket."""
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except (BlockingIOError, InterruptedError):
                return
            now = time.monotonic()
            off = 0
            while off + NLMSG_HDR.size <= len(data):
                size, kind, _, _, _ = NLMSG_HDR.unpack_from(data, off)
                if size < NLMSG_HDR.size:
                    break
                if kind == PACKET_TYPE:
                    # attributes start after the netlink header and the 4-byte nfgenmsg
                    self.hold(data, off + NLMSG_HDR.size + 4, off + size, now)
                off += (size + 3) & ~3

    def hold(self, data, pos, end, now):
        packet_id = None
        port_in = port_out = 0
        while pos + ATTR_HDR.size <= end:
            size, kind = ATTR_HDR.unpack_from(data, pos)
            if size < ATTR_HDR.size:
                break
            kind &= 0x3FFF  # without the nested / byte-order flags
            if kind == NFQA_PACKET_HDR:
                (packet_id,) = struct.unpack_from('!I', data, pos + 4)
            elif kind == NFQA_IFINDEX_PHYSINDEV:
                (port_in,) = struct.unpack_from('!I', data, pos + 4)
            elif kind == NFQA_IFINDEX_PHYSOUTDEV:
                (port_out,) = struct.unpack_from('!I', data, pos + 4)
            pos += (size + 3) & ~3
        if packet_id is None:
            return
        self.counters['packets'] += 1
        wait = 0.0
        for port in (port_in, port_out):
            link = self.ports.get(port)
            if link is None:
                self.counters['unknownPort'] += 1
                continue
            delay, jitter = link
            wait += delay + (self.rng.uniform(-jitter, jitter) if jitter > 0 else 0.0)
        path = (port_in, port_out)
        release = max(now + max(wait, 0.0), self.last.get(path, 0.0))
        self.last[path] = release
        self.arrivals += 1
        heapq.heappush(self.held, (release, self.arrivals, packet_id))
        if len(self.held) > self.counters['maxHeld']:
            self.counters['maxHeld'] = len(self.held)

    def release(self):
        """Accept every packet whose time has come, in batches of verdicts."""
        now = time.monotonic()
        batch = []
        while self.held and self.held[0][0] <= now:
            due, _, packet_id = heapq.heappop(self.held)
            late = (now - due) * 1000.0
            if late > self.counters['lateMsMax']:
                self.counters['lateMsMax'] = late
            hdr = attr(NFQA_VERDICT_HDR, struct.pack('!II', NF_ACCEPT, packet_id))
            batch.append(queue_message(NFQNL_MSG_VERDICT, self.queue, [hdr]))
            if len(batch) == VERDICTS_PER_SEND:
                self.sock.send(b''.join(batch))
                batch = []
        if batch:
            self.sock.send(b''.join(batch))

    def run(self):
        fd = self.sock.fileno()
        while self.running:
            # wake for the next due packet, or at least twice a second to notice a stop
            timeout = 0.5
            if self.held:
                timeout = min(timeout, max(0.0, self.held[0][0] - time.monotonic()))
            readable, _, _ = select.select([fd], [], [], timeout)
            if readable:
                self.receive()
            self.release()


def kernel_drops(queue):
    """Packets the kernel dropped on this queue: queue full, and messages we had no room for."""
    try:
        with open('/proc/net/netfilter/nfnetlink_queue') as f:
            for row in f:
                fields = row.split()
                if len(fields) >= 7 and int(fields[0]) == queue:
                    return {'queueFull': int(fields[5]), 'notDelivered': int(fields[6])}
    except OSError:
        pass
    return {}


def log(message):
    print(f'delay-line: {message}', file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--ports', required=True, help='JSON file of the bridge ports and their links')
    parser.add_argument('--ready', required=True, help='file written once the queue is bound')
    parser.add_argument('--queue', type=int, default=0)
    parser.add_argument('--seed', type=int, default=None, help='seed of the jitter (default: random)')
    args = parser.parse_args()

    line = DelayLine(args.queue, load_ports(args.ports), random.Random(args.seed))

    def stop(*_):
        line.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    line.open()
    tmp = f'{args.ready}.tmp'
    with open(tmp, 'w') as f:
        f.write(f'{os.getpid()}\n')
    os.replace(tmp, args.ready)
    line.run()
    log(f'stopped: {json.dumps({**line.counters, **kernel_drops(args.queue)})} held={len(line.held)}')


if __name__ == '__main__':
    main()
