#!/usr/bin/env python3
"""proxy.py - a tiny HTTP proxy that counts what goes through it.

For send_proxy.sh: provflow (libcurl) must send its Graph and token
requests through the proxy that http_proxy / https_proxy name, and past it
for the hosts no_proxy names.

  CONNECT host:port        a tunnel (https:// through the proxy): 200, then
                           bytes both ways until either side closes
  GET/POST/... http://...  forwarded (absolute-form request target), the
                           answer sent back with its status and body

Only 127.0.0.1 and localhost are reached: anything else is answered 403.
Every request is appended to --log as one JSON line: {"method", "target"}.
Listens on 127.0.0.1 with an ephemeral port, written to --port-file once it
listens. Stops on SIGTERM. Python 3 standard library only.
"""
import argparse
import http.client
import json
import os
import select
import signal
import socket
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ALLOWED = {"127.0.0.1", "localhost"}
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
       "te", "trailer", "transfer-encoding", "upgrade"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_file = None
    lock = threading.Lock()

    def log_message(self, fmt, *args):  # quiet: the log file is the record
        pass

    def _record(self):
        with self.lock, open(self.log_file, "a", encoding="utf-8") as f:
            f.write(json.dumps({"method": self.command,
                                "target": self.path}) + "\n")

    def _refuse(self, status, why):
        body = (why + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_CONNECT(self):
        self._record()
        host, _, port = self.path.rpartition(":")
        if host not in ALLOWED or not port.isdigit():
            return self._refuse(403, "only 127.0.0.1 is reachable")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError as e:
            return self._refuse(502, str(e))
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        conns = [self.connection, upstream]
        try:
            while True:
                ready, _, _ = select.select(conns, [], [], 30)
                if not ready:
                    break
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.connection
                     else self.connection).sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()

    def _forward(self):
        self._record()
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or url.hostname not in ALLOWED:
            return self._refuse(403, "only http://127.0.0.1 is reachable")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP}
        conn = http.client.HTTPConnection(url.hostname, url.port or 80,
                                          timeout=30)
        try:
            path = url.path + ("?" + url.query if url.query else "")
            conn.request(self.command, path or "/", body=body,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            return self._refuse(502, str(e))
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    Handler.log_file = a.log
    open(a.log, "a").close()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(
        target=srv.shutdown).start())
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, a.port_file)
    print("http://127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
