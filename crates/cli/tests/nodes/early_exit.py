#!/usr/bin/env python3
"""Answers init, then dies on its second echo with exit status 3."""
import sys

from node_lib import Node

node = Node()
count = [0]


def echo(m):
    count[0] += 1
    if count[0] == 2:
        node.log("boom: giving up on purpose")
        sys.exit(3)
    node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})


node.on("echo", echo)
node.run()
