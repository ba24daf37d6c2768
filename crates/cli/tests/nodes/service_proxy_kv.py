#!/usr/bin/env python3
"""A lin-kv node that keeps nothing itself: it forwards every client request
to one of the workbench's key-value services (the first argument: seq-kv or
lww-kv; default seq-kv) and passes the service's reply back to the client.
The node is exactly as consistent as the service: forwarding to seq-kv is
sequentially consistent but not linearizable (stale reads); forwarding to
lww-kv breaks even monotonic reads (a read may land on either replica)."""
import sys

from node_lib import Node

SERVICE = sys.argv[1] if len(sys.argv) > 1 else "seq-kv"

node = Node()
# Our msg_id to the service -> the client's request.
waiting = {}


def forward(m):
    body = {k: v for k, v in m["body"].items() if k != "msg_id"}
    node.send(SERVICE, body)
    waiting[node.next_msg_id] = m


def answer(m):
    request = waiting.pop(m["body"].get("in_reply_to"), None)
    if request is None:
        return
    body = {k: v for k, v in m["body"].items() if k not in ("msg_id", "in_reply_to")}
    node.reply(request, body)


for kind in ("read", "write", "cas"):
    node.on(kind, forward)
for kind in ("read_ok", "write_ok", "cas_ok", "error"):
    node.on(kind, answer)
node.run()
