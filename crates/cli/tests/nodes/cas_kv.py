#!/usr/bin/env python3
"""A lin-kv node that keeps nothing itself and stores every key in the
workbench's lin-kv service. Reads and writes are forwarded. A cas is done
one of two ways, by the first argument:

  atomic (default)  forwarded as the service's own cas: linearizable.
  read-then-write   a read of the key, a comparison here, then a write: two
                    cas requests that overlap both read the old value and
                    both succeed, which no order of them explains.
"""
import sys

from node_lib import Node

MODE = sys.argv[1] if len(sys.argv) > 1 else "atomic"
if MODE not in ("atomic", "read-then-write"):
    sys.exit(f"cas_kv.py: unknown mode {MODE!r}; give atomic or read-then-write")

node = Node()
# Our msg_id to the service -> (the client's request, what the reply is for).
waiting = {}


def call(body, request, purpose):
    node.send("lin-kv", body)
    waiting[node.next_msg_id] = (request, purpose)


def on_request(m):
    body = m["body"]
    if body["type"] == "cas" and MODE == "read-then-write":
        call({"type": "read", "key": body["key"]}, m, "cas-read")
        return
    forward = {k: v for k, v in body.items() if k != "msg_id"}
    call(forward, m, "forward")


def on_reply(m):
    entry = waiting.pop(m["body"].get("in_reply_to"), None)
    if entry is None:
        return
    request, purpose = entry
    body = m["body"]
    if purpose == "cas-read":
        want = request["body"]
        if body["type"] == "error":
            node.reply(request, {"type": "error", "code": body["code"], "text": body.get("text", "")})
        elif body["value"] != want["from"]:
            node.reply(request, {"type": "error", "code": 22, "text": "value differs"})
        else:
            call({"type": "write", "key": want["key"], "value": want["to"]}, request, "cas-write")
        return
    if purpose == "cas-write":
        if body["type"] == "write_ok":
            node.reply(request, {"type": "cas_ok"})
        else:
            node.reply(request, {"type": "error", "code": body["code"], "text": body.get("text", "")})
        return
    reply = {k: v for k, v in body.items() if k not in ("msg_id", "in_reply_to")}
    node.reply(request, reply)


for kind in ("read", "write", "cas"):
    node.on(kind, on_request)
for kind in ("read_ok", "write_ok", "cas_ok", "error"):
    node.on(kind, on_reply)
node.run()
