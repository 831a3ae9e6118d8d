"""How a RabbitMQ 3.10 quorum queue with single active consumer hands a partition
from consumer A (holding unacknowledged messages) to consumer B: does B see every
message in order? 600 messages; A takes `prefetch`, acks a third (so more are on
their way to it), then goes. Cases (docs/scale.md, "Partition ownership"):

* standby: B subscribed beforehand (waiting), A closes its channel;
* cancel-drain: A cancels, acks all it was given, closes; B subscribes once the
  queue has no consumer;
* qos-hold: A lowers its window to 1, stops acking, closes; B as above;
* raw-close: A sends Channel.Close at once (no cancel); B as above;
* crash: A's connection drops; B subscribes once the queue has no consumer.
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import time
from pathlib import Path

import pika

from tests.cluster import RabbitCluster


def pump(conns: list, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        for c in conns:
            if c.is_open:
                c.process_data_events(0.02)


def run(c: RabbitCluster, case: str, prefetch: int) -> dict:
    q = f"handover-{case}-{prefetch}-{time.time_ns()}"
    pub = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", c.amqp[0]))
    ch = pub.channel()
    args = {"x-queue-type": "quorum", "x-single-active-consumer": True}
    ch.queue_declare(q, durable=True, arguments=args)
    ch.confirm_delivery()
    for i in range(600):
        ch.basic_publish("", q, str(i).encode())
    a_conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", c.amqp[2]))
    a = a_conn.channel()
    a.basic_qos(prefetch_count=prefetch)
    tags: list[int] = []
    ctag = a.basic_consume(q, lambda _c, m, _p, _b: tags.append(m.delivery_tag))
    pump([a_conn], 0.5)
    a.basic_ack(tags[prefetch // 3], multiple=True)
    b_conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", c.amqp[1]))
    got: list[int] = []

    def subscribe_b() -> None:
        b = b_conn.channel()
        b.basic_qos(prefetch_count=1000)
        b.basic_consume(
            q, lambda bc, m, _p, body: (got.append(int(body)), bc.basic_ack(m.delivery_tag))
        )

    ctl = b_conn.channel()
    if case == "standby":
        subscribe_b()
        pump([a_conn, b_conn], 0.3)
        a.close()
    elif case == "cancel-drain":
        a.basic_cancel(ctag)
        pump([a_conn], 0.2)
        a.basic_ack(tags[-1], multiple=True)
        a.close()
    elif case == "qos-hold":
        # what ingest/partitioned.py does: window down to 1 (nothing more comes while
        # we hold any), no more acks, close; B gets the held ones back first (doubles
        # for the store's filter), then the rest
        a.basic_qos(prefetch_count=1)
        pump([a_conn], 0.2)
        a.close()
    elif case == "raw-close":
        # Channel.Close straight away: pika's BlockingChannel.close() cancels the
        # consumer first, which rejects (requeues) deliveries still on their way
        a._impl.close()
        pump([a_conn], 0.3)
    else:
        a_conn.process_data_events(0)
        a_conn._impl._transport._sock.shutdown(socket.SHUT_RDWR)
    if case != "standby":
        while ctl.queue_declare(q, passive=True).method.consumer_count:
            time.sleep(0.01)
        subscribe_b()
    pump([b_conn], 1.5)
    done = len(tags) if case == "cancel-drain" else prefetch // 3 + 1
    inversions = sum(1 for x, y in zip(got, got[1:]) if y < x)
    b_conn.close()
    pub.close()
    return {
        "case": case,
        "prefetch": prefetch,
        "a_done": done,
        "b_got": len(got),
        "b_first": got[:1],
        "inversions": inversions,
    }


if __name__ == "__main__":
    c = RabbitCluster(Path(tempfile.mkdtemp(prefix="handover-")))
    c.start()
    try:
        for case in sys.argv[1:] or ("standby", "cancel-drain", "qos-hold", "raw-close", "crash"):
            for prefetch in (32, 200):
                print(json.dumps(run(c, case, prefetch)), flush=True)
    finally:
        c.stop()
    sys.exit(0)
