#!/usr/bin/env python3
"""An echo node that misbehaves against the workbench itself, as its first
argument says (modes joined by "+" combine); the second, where given, is a
file to append process ids to.

  daemonize PIDFILE    on init, double-forks with setsid; the grandchild keeps
                       the inherited pipes open and sleeps; its pid goes to
                       PIDFILE (the node itself answers echo normally)
  ignore-eof PIDFILE   ignores SIGTERM/SIGHUP and keeps running after its stdin
                       closes; its pid goes to PIDFILE
  endless-stdout       on the first echo, prints 64 MiB with no newline, then a
                       newline, then answers normally
  endless-stderr       on the first echo, writes 64 MiB with no newline to stderr
  stderr-flood         on the first echo, writes 32 MiB of lines to stderr
  flood-peer           n0 sends 1,000 messages of 20 KB to n1, which never
                       reads its stdin after init
  invalid-utf8         answers its first echo with a line holding a byte that
                       is not UTF-8 inside a JSON string
  stray-replies        answers each echo twice, and also with a reply to a
                       msg_id the client never sent
  remove-self          deletes the script on its first echo, so any restart fails
"""
import json
import os
import signal
import sys
import time

from node_lib import Node

modes = set(sys.argv[1].split("+"))
pidfile = sys.argv[2] if len(sys.argv) > 2 else None


def note_pid(pid):
    with open(pidfile, "a") as f:
        f.write("%d\n" % pid)


node = Node()
state = {"echoes": 0}

if "ignore-eof" in modes:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    note_pid(os.getpid())


def daemonize():
    if os.fork() > 0:
        return
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    # The grandchild: a new session, the node's pipes still open.
    note_pid(os.getpid())
    while True:
        time.sleep(1)


def on_init(msg):
    if "daemonize" in modes:
        pid = os.fork()
        if pid == 0:
            daemonize()
            os._exit(0)
        os.waitpid(pid, 0)
    if "flood-peer" in modes and node.node_id == "n1":
        # Answer init, then never read stdin again.
        node.reply(msg, {"type": "init_ok"})
        while True:
            time.sleep(1)
    if "flood-peer" in modes and node.node_id == "n0":
        node.reply(msg, {"type": "init_ok"})
        blob = "x" * 20_000
        for _ in range(1000):
            node.send("n1", {"type": "gossip", "blob": blob})
        # init_ok already sent; the loop's own reply goes to a client that
        # has moved on.


def echo(m):
    state["echoes"] += 1
    first = state["echoes"] == 1
    if first and "remove-self" in modes:
        # Every node has answered init (and so has read this file) before
        # the first echo.
        try:
            os.remove(os.path.abspath(sys.argv[0]))
        except FileNotFoundError:
            pass
    if first and "endless-stdout" in modes:
        chunk = "y" * (1 << 20)
        for _ in range(64):
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
        sys.stdout.flush()
    if first and "endless-stderr" in modes:
        chunk = "z" * (1 << 20)
        for _ in range(64):
            sys.stderr.write(chunk)
        sys.stderr.flush()
    if first and "stderr-flood" in modes:
        line = "w" * 1023 + "\n"
        sys.stderr.write(line * (32 * 1024))
        sys.stderr.flush()
    if first and "invalid-utf8" in modes:
        body = json.dumps(
            {"type": "echo_ok", "echo": m["body"]["echo"], "in_reply_to": m["body"]["msg_id"], "note": "BAD"}
        )
        line = json.dumps({"src": node.node_id, "dest": m["src"], "body": json.loads(body)})
        raw = line.encode().replace(b"BAD", b"\xff\xfe")
        sys.stdout.buffer.write(raw + b"\n")
        sys.stdout.flush()
        return
    node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})
    if "stray-replies" in modes:
        node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})
        stray = dict(m, body=dict(m["body"], msg_id=10_000_000 + state["echoes"]))
        node.reply(stray, {"type": "echo_ok", "echo": m["body"]["echo"]})


node.on("init", on_init)
node.on("echo", echo)
node.run()
if "ignore-eof" in modes:
    # stdin closed: stay, as a node that does not exit on EOF.
    while True:
        time.sleep(1)
