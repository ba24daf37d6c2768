#!/usr/bin/env python3
"""A broadcast node that spreads what it knows by a timer: a thread wakes
every GOSSIP_S seconds (time.sleep) and sends each neighbour the messages
it has not yet heard them acknowledge. The main thread answers clients.
The first argument, if given, is the gossip period in seconds."""
import sys
import threading
import time

from node_lib import Node

GOSSIP_S = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1

node = Node()
lock = threading.Lock()
messages = set()
neighbours = []
# What each neighbour is known to have.
known = {}


def send(dest, body):
    with lock:
        node.send(dest, body)


def reply(request, body):
    with lock:
        node.reply(request, body)


def on_topology(m):
    global neighbours
    with lock:
        neighbours = list(m["body"]["topology"].get(node.node_id, []))
        for n in neighbours:
            known.setdefault(n, set())
    reply(m, {"type": "topology_ok"})


def on_broadcast(m):
    with lock:
        messages.add(m["body"]["message"])
    reply(m, {"type": "broadcast_ok"})


def on_read(m):
    with lock:
        seen = sorted(messages)
    reply(m, {"type": "read_ok", "messages": seen})


def on_gossip(m):
    with lock:
        got = m["body"]["messages"]
        messages.update(got)
        known.setdefault(m["src"], set()).update(got)


def gossip():
    while True:
        time.sleep(GOSSIP_S)
        with lock:
            plan = [(n, sorted(messages - known.get(n, set()))) for n in neighbours]
        for n, missing in plan:
            if missing:
                send(n, {"type": "gossip", "messages": missing})
                # Optimistic: what is lost is sent again once the node says
                # it lacks it (it gossips it back); the sets only grow.
                with lock:
                    known[n].update(missing)


node.on("topology", on_topology)
node.on("broadcast", on_broadcast)
node.on("read", on_read)
node.on("gossip", on_gossip)
threading.Thread(target=gossip, daemon=True).start()
node.run()
