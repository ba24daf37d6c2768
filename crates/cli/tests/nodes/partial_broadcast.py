#!/usr/bin/env python3
"""A buggy broadcast node: every node floods each new message to all the
others, except that the first node (node_ids[0]) drops the first message
that reaches it by gossip, and keeps dropping it. Every other node's reads
hold everything, so the last read to begin has every message and
Maelstrom's checker calls them all stable; only that node's own final read
lacks one.

With the argument --correct, nothing is dropped (the control run)."""
import sys

from node_lib import Node

node = Node()
messages = []
known = set()
dropped = []
correct = "--correct" in sys.argv[1:]


def learn(message):
    """Keeps a new message and floods it to every other node."""
    if message in known:
        return
    known.add(message)
    messages.append(message)
    for other in node.node_ids:
        if other != node.node_id:
            node.send(other, {"type": "gossip", "message": message})


def broadcast(m):
    learn(m["body"]["message"])
    node.reply(m, {"type": "broadcast_ok"})


def gossip(m):
    message = m["body"]["message"]
    if not correct and node.node_id == node.node_ids[0]:
        if not dropped and message not in known:
            dropped.append(message)
            node.log(f"dropping message {message} for good (on purpose)")
        if message in dropped:
            return
    learn(message)


node.on("topology", lambda m: node.reply(m, {"type": "topology_ok"}))
node.on("broadcast", broadcast)
node.on("gossip", gossip)
node.on("read", lambda m: node.reply(m, {"type": "read_ok", "messages": messages}))
node.run()
