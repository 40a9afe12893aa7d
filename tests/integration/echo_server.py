#!/usr/bin/env python3
"""echo_server.py - a token endpoint and a Graph that echo what they get.

For the redaction tests: every answer quotes the request it received, the
way careless servers do, so that any secret provflow sent comes straight
back in an error text.

  POST /<tenant>/oauth2/v2.0/token
      --token ok:       200 with an access token (the default)
      --token 400|401:  that status, {"error": "invalid_request" (400) or
                        "invalid_client" (401), "error_description": the
                        received form body as it came, control characters,
                        the body again with lower-case hex, and decoded}
  POST .../provisioningFlows
      --graph 400 (the default) or 403: that status, {"error": {"code":
      "BadRequest" (400) or "Forbidden" (403), "message": control
      characters (CR, LF, ESC sequences, a C1 CSI: 403 only); with
      --cut-at N, the body's first password placed across byte N of
      "<code>: <message>" (padded with "x"); the received body as it
      came, form-encoded and percent-encoded in lower hex; the control
      characters again,
      "innerError": {"request-id", "date", "client-request-id"}}}
  GET  .../provisioningFlows   200 {"value": []}

Listens on 127.0.0.1 with an ephemeral port, written to --port-file once
it listens; TLS with --tls-cert and --tls-key. Requests are appended to
--log (one JSON line each) when given. Stops on SIGTERM. Python 3
standard library only.
"""
import argparse
import json
import os
import re
import signal
import ssl
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# What a terminal must never receive raw: a line break that forges a log
# line, an escape sequence that clears the screen, a C1 CSI.
CONTROLS = " \r\nforged line \x1b[2J\x1b]0;title\x07 \u009b0m"


def lower_hex(text):
    """Form-encoding of text with every escape in lower-case hex."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(),
                  urllib.parse.quote_plus(text, safe=""))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    token_mode = "ok"
    graph_status = 400
    cut_at = 0
    log_file = None
    lock = threading.Lock()

    def log_message(self, fmt, *args):  # quiet: the log file is the record
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    def _send(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", "echo-request-id")
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body):
        if self.log_file is None:
            return
        with self.lock, open(self.log_file, "a", encoding="utf-8") as f:
            f.write(json.dumps({"method": self.command, "path": self.path,
                                "bytes": len(body)}) + "\n")

    def _straddle(self, body, before):
        """With --cut-at N: padding and the body's first password, placed
        so that byte N of before + the padding falls 10 bytes into the
        password (a client that cuts "code: message" there before masking
        leaves the password's start behind); else ""."""
        if self.cut_at <= 0:
            return ""
        found = []

        def walk(v):
            if isinstance(v, dict):
                for k, m in v.items():
                    if k.lower() == "password" and isinstance(m, str):
                        found.append(m)
                    else:
                        walk(m)
            elif isinstance(v, list):
                for m in v:
                    walk(m)
        try:
            walk(json.loads(body))
        except ValueError:
            return ""
        if not found:
            return ""
        pad = self.cut_at - len(before.encode()) - 10
        return "x" * max(pad, 0) + found[0] + " "

    def do_GET(self):
        self._record("")
        if self.path.split("?")[0].endswith("/provisioningFlows"):
            self._send(200, {"value": []})
        else:
            self._send(404, {"error": {"code": "NotFound",
                                       "message": self.path}})

    def do_POST(self):
        body = self._body()
        self._record(body)
        path = self.path.split("?")[0]
        if path.endswith("/oauth2/v2.0/token"):
            if self.token_mode == "ok":
                self._send(200, {"token_type": "Bearer", "expires_in": 3600,
                                 "access_token": "echo-token-0123456789"})
                return
            status = int(self.token_mode)
            decoded = "&".join(
                "%s=%s" % kv for kv in urllib.parse.parse_qsl(body))
            self._send(status, {
                "error": "invalid_client" if status == 401
                         else "invalid_request",
                "error_description":
                    "AADSTS7000215: received: %s%s | %s | %s"
                    % (body, CONTROLS, lower_hex(decoded), decoded)})
        elif path.endswith("/provisioningFlows"):
            code = "BadRequest" if self.graph_status == 400 else "Forbidden"
            # a 403 stops `provflow send`: its text goes to a terminal
            lead = CONTROLS if self.graph_status == 403 else ""
            self._send(self.graph_status, {"error": {
                "code": code,
                "message": "%s%sInvalid request body: %s | %s | %s%s"
                           % (lead, self._straddle(body, code + ": " + lead),
                              body, urllib.parse.quote_plus(body),
                              lower_hex(body), CONTROLS),
                "innerError": {"request-id": "echo-request-id",
                               "date": "2026-01-01T00:00:00",
                               "client-request-id":
                                   self.headers.get("client-request-id",
                                                    "")}}})
        else:
            self._send(404, {"error": {"code": "NotFound",
                                       "message": self.path}})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--token", choices=["ok", "400", "401"], default="ok")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--log")
    p.add_argument("--cut-at", type=int, default=0)
    p.add_argument("--graph", type=int, choices=[400, 403], default=400)
    args = p.parse_args()
    Handler.token_mode = args.token
    Handler.log_file = args.log
    Handler.cut_at = args.cut_at
    Handler.graph_status = args.graph
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(
        target=server.shutdown).start())
    port = server.server_address[1]
    with open(args.port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write("%d\n" % port)
    # written whole, then renamed: a reader never sees half a port
    os.replace(args.port_file + ".tmp", args.port_file)
    print("%s://127.0.0.1:%d" % (scheme, port), flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
