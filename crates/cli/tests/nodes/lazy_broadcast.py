#!/usr/bin/env python3
"""A buggy broadcast node: it keeps what it is told and never forwards it,
so other nodes never see the message."""
from node_lib import Node

node = Node()
messages = []


def broadcast(m):
    messages.append(m["body"]["message"])
    node.reply(m, {"type": "broadcast_ok"})


node.on("topology", lambda m: node.reply(m, {"type": "topology_ok"}))
node.on("broadcast", broadcast)
node.on("read", lambda m: node.reply(m, {"type": "read_ok", "messages": messages}))
node.run()
