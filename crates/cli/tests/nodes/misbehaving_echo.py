#!/usr/bin/env python3
"""An echo node that also prints one bad line of the kind named by its argument,
on its third echo: not-json, missing-dest, unknown-dest, wrong-src."""
import json
import sys

from node_lib import Node

kind = sys.argv[1]
node = Node()
count = [0]


def echo(m):
    count[0] += 1
    if count[0] == 3:
        if kind == "not-json":
            node.send_raw("hello, this is not json")
        elif kind == "missing-dest":
            node.send_raw(json.dumps({"src": node.node_id, "body": {"type": "echo_ok"}}))
        elif kind == "unknown-dest":
            node.send("n99", {"type": "gossip"})
        elif kind == "wrong-src":
            node.send_raw(json.dumps({"src": "n42", "dest": m["src"], "body": {"type": "x"}}))
    node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})


node.on("echo", echo)
node.run()
