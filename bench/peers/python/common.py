"""Shared by the two Python peers: event checks, outcome records, retries.

What a competent Python engineer would write: the event is parsed with
json, checked for the few things a client must not send to Graph (type,
id, a GUID flow set id, a known flow type, a flow object), and data.flow
is posted as it is; Graph's own validation does the rest (its 400 becomes a
"rejected" failure). The outcome is a CloudEvent with the same members as
provflow's (status, requestId, flowSetId, flowType, the flow with passwords
masked, graph {httpStatus, requestId, clientRequestId, attempts,
elapsedMs}, error, input {topic, partition, offset}).
"""
import json
import os
import random
import re
import time
import uuid
from datetime import datetime, timezone

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
FLOW_TYPES = {"administrativeUnit", "classGroup", "securityGroup", "user"}
TRANSIENT = {408, 429, 500, 502, 503, 504}
MAX_ATTEMPTS = 10


def settings(argv, name):
    import argparse
    ap = argparse.ArgumentParser(prog=name)
    ap.add_argument("--brokers", default="127.0.0.1:9092")
    ap.add_argument("--input-topic", default="provisioning-requests")
    ap.add_argument("--results-topic", default="provisioning-results")
    ap.add_argument("--dead-letter-topic", default="provisioning-dead-letters")
    ap.add_argument("--group-id", default=name)
    ap.add_argument("--graph-root", default="https://graph.microsoft.com")
    ap.add_argument("--authority-host", default="https://login.microsoftonline.com")
    ap.add_argument("--max-in-flight", type=int, default=64)
    ap.add_argument("--max-buffered", type=int, default=2000)
    return ap.parse_args(argv)


def token_request(args):
    """(url, form) of the client-credentials token request."""
    url = "%s/%s/oauth2/v2.0/token" % (args.authority_host.rstrip("/"), os.environ["AZURE_TENANT_ID"])
    form = {"grant_type": "client_credentials", "client_id": os.environ["AZURE_CLIENT_ID"],
            "client_secret": os.environ["AZURE_CLIENT_SECRET"],
            "scope": "https://graph.microsoft.com/.default"}
    return url, form


def check(value):
    """(event, None) for a valid event, else (event or {}, error message)."""
    try:
        ev = json.loads(value)
    except ValueError as e:
        return {}, "not JSON: %s" % e
    if not isinstance(ev, dict):
        return {}, "not an object"
    data = ev.get("data") if isinstance(ev.get("data"), dict) else {}
    if ev.get("type") != "provflow.provisioningFlow.create" or not ev.get("id"):
        return ev, "type or id"
    if not GUID.match(str(data.get("flowSetId", ""))):
        return ev, "data.flowSetId: not a GUID"
    if data.get("flowType") not in FLOW_TYPES:
        return ev, "data.flowType: unknown"
    if not isinstance(data.get("flow"), dict):
        return ev, "data.flow: not an object"
    return ev, None


def flow_url(args, ev):
    return "%s/beta/external/industryData/outboundProvisioningFlowSets/%s/provisioningFlows" % (
        args.graph_root.rstrip("/"), ev["data"]["flowSetId"])


def client_request_id(ev):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, str(ev.get("id", ""))))


def backoff(attempt, retry_after):
    """Seconds to wait before the next attempt: Retry-After wins."""
    if retry_after is not None:
        try:
            return float(int(retry_after))
        except ValueError:
            pass
    return random.uniform(0, min(60.0, 0.5 * 2 ** (attempt - 1)))


def mask(v):
    if isinstance(v, dict):
        for k in v:
            if k.lower() == "password":
                v[k] = "***"
            else:
                mask(v[k])
    elif isinstance(v, list):
        for e in v:
            mask(e)


def outcome(ev, status, topic, partition, offset, flow=None, graph=None, error=None):
    """The outcome record's value (bytes)."""
    data = ev.get("data") if isinstance(ev.get("data"), dict) else {}
    d = {"requestId": ev.get("id"), "flowSetId": data.get("flowSetId"),
         "flowType": data.get("flowType"), "status": status}
    if flow is not None:
        mask(flow)
        d["flow"] = flow
    if graph is not None:
        d["graph"] = graph
    if error is not None:
        d["error"] = error
    d["input"] = {"topic": topic, "partition": partition, "offset": offset}
    ce = {"specversion": "1.0",
          "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "outcome:%s:%s" % (ev.get("id"), status))),
          "source": "urn:peer:python", "type": "provflow.provisioningFlow." + status}
    if isinstance(flow, dict) and isinstance(flow.get("id"), str):
        ce["subject"] = flow["id"]
    ce["time"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    ce["datacontenttype"] = "application/json"
    ce["data"] = d
    return json.dumps(ce, separators=(",", ":")).encode()


def result(status_code, body, attempt, crid, request_id, started):
    """(status, flow, graph, error) of a final Graph answer."""
    graph = {"httpStatus": status_code, "requestId": request_id, "clientRequestId": crid,
             "attempts": attempt, "elapsedMs": int((time.monotonic() - started) * 1000)}
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if status_code == 201:
        return "created", doc, graph, None
    gerr = doc.get("error") if isinstance(doc, dict) else None
    if status_code in TRANSIENT or status_code == 0:
        return "failed", None, graph, {"code": "retries_exhausted", "message": "HTTP %d" % status_code}
    return "failed", None, graph, {"code": "rejected", "message": "Graph answered %d" % status_code,
                                    "graphError": gerr}
