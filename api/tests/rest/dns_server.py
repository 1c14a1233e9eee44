"""A DNS server for the API's tests: answers TXT queries over UDP and TCP from a JSON file
({"name": ["value", ...]}) read again on every query, so a test changes records by rewriting it.

Usage: dns_server.py PORT RECORDS_JSON
"""

import json
import sys
import time

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSServer


class FileResolver(BaseResolver):
    def __init__(self, path):
        self.path = path

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        try:
            with open(self.path) as f:
                records = json.load(f)
        except (OSError, ValueError):
            records = {}
        values = records.get(name)
        if not values:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.TXT:
            for value in values:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=0))
        return reply


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    resolver = FileResolver(path)
    servers = [
        DNSServer(resolver, port=port, address="127.0.0.1"),
        DNSServer(resolver, port=port, address="127.0.0.1", tcp=True),
    ]
    for server in servers:
        server.start_thread()
    while all(s.isAlive() for s in servers):
        time.sleep(0.2)


if __name__ == "__main__":
    main()
