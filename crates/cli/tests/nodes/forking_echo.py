#!/usr/bin/env python3
"""An echo node that starts a long-lived child process and records both pids
in the file named by its argument, so a test can check that the workbench
kills the whole process group."""
import os
import subprocess
import sys

from node_lib import Node

child = subprocess.Popen(["sleep", "300"])
with open(sys.argv[1], "a") as f:
    f.write("%d %d\n" % (os.getpid(), child.pid))
node = Node()
node.on("echo", lambda m: node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]}))
node.run()
