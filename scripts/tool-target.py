#!/usr/bin/env python3
"""A local HTTP target for scripts/tool-fixtures.sh: the load tools run against it.

Usage: tool-target.py PORT_FILE  (binds 127.0.0.1 on a free port and writes the port there)

Paths:
  /          200, answers at once
  /slow      200 after a delay drawn from a log-normal around 30 ms (up to 2 s), so the
             latencies spread over several of BenchBoard's buckets
  /missing   404 (a failure for Locust, JMeter, vegeta, wrk's status errors)
  /error     500
The delays come from a fixed seed, so two runs see the same sequence of delays.
"""
import http.server
import math
import random
import sys
import threading
import time

RANDOM = random.Random(15)
LOCK = threading.Lock()


def delay_s():
    with LOCK:
        ms = RANDOM.lognormvariate(math.log(30.0), 1.0)
    return min(ms, 2000.0) / 1000.0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/slow":
            time.sleep(delay_s())
        status = {"/missing": 404, "/error": 500}.get(path, 200)
        body = b"benchboard tool target\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Load tools drop their connections at the end of a run: not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    server = Server(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
