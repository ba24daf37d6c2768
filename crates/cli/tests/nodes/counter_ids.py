#!/usr/bin/env python3
"""A buggy unique-ids node: a plain counter per node, so nodes collide."""
from node_lib import Node

node = Node()
counter = [0]


def generate(m):
    counter[0] += 1
    node.reply(m, {"type": "generate_ok", "id": counter[0]})


node.on("generate", generate)
node.run()
