#!/usr/bin/env python3
"""A txn-list-append / txn-rw-register node in the style of the second step of
Maelstrom's Datomic guide (doc/05-datomic/02-shared-state): the whole
database is one lin-kv value, `db`, a map from key to value. A transaction
reads it, runs its micro-ops on that copy and, if it wrote anything,
compare-and-sets `db` from the copy it read to the one it made; losing that
race fails the transaction with txn-conflict (30), a definite error.
Strict-serializable, since the cas is linearizable.

With --local each node keeps its own database in memory instead: every node
is serial on its own, but two nodes never see each other's writes, which
Elle reports (a cycle through rw edges, or one through real time). With
--reorder a reply lists the micro-ops of a transaction of two or more in
reverse order, which is a malformed reply.

Standard library only; RPCs to lin-kv go out while other requests are read,
their replies matched by in_reply_to."""
import json
import sys

LOCAL = "--local" in sys.argv[1:]
REORDER = "--reorder" in sys.argv[1:]
node_id = None
next_msg_id = 0
callbacks = {}
local_db = {}


def send(dest, body):
    global next_msg_id
    next_msg_id += 1
    body = dict(body, msg_id=next_msg_id)
    sys.stdout.write(json.dumps({"src": node_id, "dest": dest, "body": body}) + "\n")
    sys.stdout.flush()
    return next_msg_id


def reply(request, body):
    if REORDER and "txn" in body:
        body = dict(body, txn=list(reversed(body["txn"])))
    send(request["src"], dict(body, in_reply_to=request["body"]["msg_id"]))


def rpc(dest, body, callback):
    callbacks[send(dest, body)] = callback


def run(txn, db):
    """Runs txn on a copy of db: (the completed txn, the new db, wrote?)."""
    db = dict(db)
    done = []
    wrote = False
    for f, k, v in txn:
        key = json.dumps(k)
        if f == "r":
            done.append([f, k, db.get(key)])
        elif f == "append":
            db[key] = list(db.get(key) or []) + [v]
            done.append([f, k, v])
            wrote = True
        else:
            db[key] = v
            done.append([f, k, v])
            wrote = True
    return done, db, wrote


def serve(request):
    txn = request["body"]["txn"]
    if LOCAL:
        global local_db
        done, local_db, _ = run(txn, local_db)
        reply(request, {"type": "txn_ok", "txn": done})
        return

    def read(res):
        body = res["body"]
        if body["type"] == "read_ok":
            db, exists = body["value"], True
        elif body.get("code") == 20:
            db, exists = {}, False
        else:
            reply(request, {"type": "error", "code": 11, "text": "could not read db"})
            return
        done, new, wrote = run(txn, db)
        if not wrote:
            reply(request, {"type": "txn_ok", "txn": done})
            return

        def cas(res):
            body = res["body"]
            if body["type"] == "cas_ok":
                reply(request, {"type": "txn_ok", "txn": done})
            elif body.get("code") in (20, 21, 22):
                reply(request, {"type": "error", "code": 30, "text": "db moved"})
            else:
                reply(request, {"type": "error", "code": 13, "text": "cas unknown"})

        rpc("lin-kv", {"type": "cas", "key": "db", "from": db if exists else None,
                       "to": new, "create_if_not_exists": not exists}, cas)

    rpc("lin-kv", {"type": "read", "key": "db"}, read)


for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    if body.get("in_reply_to") in callbacks:
        callbacks.pop(body["in_reply_to"])(msg)
    elif body["type"] == "init":
        node_id = body["node_id"]
        reply(msg, {"type": "init_ok"})
    elif body["type"] == "txn":
        serve(msg)
    else:
        reply(msg, {"type": "error", "code": 10, "text": "not supported"})
