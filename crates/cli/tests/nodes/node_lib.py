"""A minimal Maelstrom node loop for lightcone's protocol tests (standard library only)."""
import json
import sys


class Node:
    def __init__(self):
        self.node_id = None
        self.node_ids = []
        self.next_msg_id = 0
        self.handlers = {}

    def on(self, kind, handler):
        self.handlers[kind] = handler

    def send_raw(self, line):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def send(self, dest, body):
        self.next_msg_id += 1
        body = dict(body, msg_id=self.next_msg_id)
        self.send_raw(json.dumps({"src": self.node_id, "dest": dest, "body": body}))

    def reply(self, request, body):
        body = dict(body, in_reply_to=request["body"]["msg_id"])
        self.send(request["src"], body)

    def log(self, text):
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def run(self):
        for line in sys.stdin:
            msg = json.loads(line)
            body = msg["body"]
            if body["type"] == "init":
                self.node_id = body["node_id"]
                self.node_ids = body["node_ids"]
                if "init" in self.handlers:
                    self.handlers["init"](msg)
                self.reply(msg, {"type": "init_ok"})
                continue
            handler = self.handlers.get(body["type"])
            if handler is None:
                self.reply(msg, {"type": "error", "code": 10, "text": "not supported"})
            else:
                handler(msg)
