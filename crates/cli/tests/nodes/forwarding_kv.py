#!/usr/bin/env python3
"""A lin-kv node in the style of Maelstrom's demo/python/raft.py: one node
(the first of node_ids) holds the map; every other node forwards a client's
request to it unchanged, src and all, and the leader replies straight to the
client. Linearizable, since one copy serves every request."""
import json

from node_lib import Node

node = Node()
kv = {}


def leader():
    return node.node_ids[0]


def serve(m):
    body = m["body"]
    if node.node_id != leader():
        # Forward as the client: Maelstrom routes it, and the reply goes to
        # the client directly.
        node.send_raw(json.dumps({"src": m["src"], "dest": leader(), "body": body}))
        return
    key = str(body["key"])
    kind = body["type"]
    if kind == "read":
        if key in kv:
            node.reply(m, {"type": "read_ok", "value": kv[key]})
        else:
            node.reply(m, {"type": "error", "code": 20, "text": "no such key"})
    elif kind == "write":
        kv[key] = body["value"]
        node.reply(m, {"type": "write_ok"})
    elif kind == "cas":
        if key not in kv:
            node.reply(m, {"type": "error", "code": 20, "text": "no such key"})
        elif kv[key] != body["from"]:
            node.reply(m, {"type": "error", "code": 22, "text": "expected %s" % body["from"]})
        else:
            kv[key] = body["to"]
            node.reply(m, {"type": "cas_ok"})


for kind in ("read", "write", "cas"):
    node.on(kind, serve)
node.run()
