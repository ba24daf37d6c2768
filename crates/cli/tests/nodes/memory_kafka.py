#!/usr/bin/env python3
"""A single-node kafka log in memory. Committed offsets are last-write-wins,
as in Kafka itself: a client that commits a lower offset after another
committed a higher one moves the committed offset back. With --lagging-lists,
list_committed_offsets answers one below what is stored, as a replica that is
a commit behind would. Both are legal: Jepsen's checker has no rule about
committed offsets.

With --drop, the node acknowledges every send and never returns a message
from any poll: every acknowledged message is lost."""
import sys

from node_lib import Node

DROP = "--drop" in sys.argv
LAGGING_LISTS = "--lagging-lists" in sys.argv
POLL_BATCH = 10

node = Node()
logs = {}
next_offset = {}
committed = {}


def send(m):
    key, msg = m["body"]["key"], m["body"]["msg"]
    offset = next_offset.get(key, 0)
    next_offset[key] = offset + 1
    if not DROP:
        logs.setdefault(key, []).append(msg)
    node.reply(m, {"type": "send_ok", "offset": offset})


def poll(m):
    msgs = {}
    for key, start in m["body"]["offsets"].items():
        log = logs.get(key, [])
        if start < len(log):
            msgs[key] = [[o, log[o]] for o in range(start, min(len(log), start + POLL_BATCH))]
    node.reply(m, {"type": "poll_ok", "msgs": msgs})


def commit(m):
    for key, offset in m["body"]["offsets"].items():
        committed[key] = offset
    node.reply(m, {"type": "commit_offsets_ok"})


def list_committed(m):
    lag = 1 if LAGGING_LISTS else 0
    offsets = {k: max(0, committed[k] - lag) for k in m["body"]["keys"] if k in committed}
    node.reply(m, {"type": "list_committed_offsets_ok", "offsets": offsets})


node.on("send", send)
node.on("poll", poll)
node.on("commit_offsets", commit)
node.on("list_committed_offsets", list_committed)
node.run()
