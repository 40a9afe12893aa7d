#!/usr/bin/env python3
"""badserver.py - a token endpoint that misbehaves as told, and a Graph
that creates whatever it is sent and records every header it received.

For the tests of what provflow does with a broken or hostile token
endpoint (send_badtoken.sh):

  POST /<tenant>/oauth2/v2.0/token
      answers what --token-reply FILE says, read again on every request:
      its first line is the HTTP status, the rest is the body, sent as it
      is (so it can hold any JSON: 9223372036854775807, 1e300, "\\r\\n")
  POST .../provisioningFlows
      201 {"id": <a new GUID>, plus the members of the request body}
  GET  .../provisioningFlows
      200 {"value": []}

Every request is appended to --log as one JSON line: {"method", "path",
"status", "headers": [[name, value], ...]} with the headers exactly as the
server parsed them (a CR/LF smuggled into a header would show as a header
of its own). Listens on 127.0.0.1 with an ephemeral port, written to
--port-file once it listens, and prints its URL; TLS with --tls-cert and
--tls-key. Stops on SIGTERM. Python 3 standard library only.
"""
import argparse
import json
import os
import signal
import ssl
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    token_reply = None
    log_file = None
    lock = threading.Lock()

    def log_message(self, fmt, *args):  # quiet: the log file is the record
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, data):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)
        self._record(status)

    def _record(self, status):
        if self.log_file is None:
            return
        entry = {"method": self.command, "path": self.path, "status": status,
                 "headers": [[k, v] for k, v in self.headers.items()]}
        with self.lock, open(self.log_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def _token(self):
        with open(self.token_reply, "rb") as f:
            text = f.read()
        first, _, body = text.partition(b"\n")
        self._send(int(first), body)

    def do_GET(self):
        if self.path.split("?")[0].endswith("/provisioningFlows"):
            self._send(200, b'{"value": []}')
        else:
            self._send(404, b'{"error": {"code": "NotFound"}}')

    def do_POST(self):
        body = self._body()
        path = self.path.split("?")[0]
        if path.endswith("/oauth2/v2.0/token"):
            self._token()
        elif path.endswith("/provisioningFlows"):
            try:
                flow = json.loads(body)
            except ValueError:
                flow = {}
            if not isinstance(flow, dict):
                flow = {}
            flow["id"] = str(uuid.uuid4())
            self._send(201, json.dumps(flow).encode())
        else:
            self._send(404, b'{"error": {"code": "NotFound"}}')


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--token-reply", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--log")
    args = p.parse_args()
    Handler.token_reply = args.token_reply
    Handler.log_file = args.log
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
