#!/usr/bin/env python3
"""A correct echo node that first logs, on stderr, the transparent huge
page line of its /proc/self/status (the setting it inherited)."""
import sys

from node_lib import Node

with open("/proc/self/status") as status:
    for line in status:
        if line.startswith("THP_enabled:"):
            sys.stderr.write(line)
            sys.stderr.flush()

node = Node()
node.on("echo", lambda m: node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]}))
node.run()
