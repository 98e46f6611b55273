#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""One UDP datagram each way, for the netns tests; every wait is 3 s at most.

  udp_probe.py recv PORT                       prints what came, or "timeout"
  udp_probe.py echo PORT                       the same, and answers "answer:"+it
  udp_probe.py send SPORT DST DPORT MSG [wait] from port SPORT; with "wait",
                                               prints the answer or "timeout"

recv and echo create the file ready-PORT in the working directory once they
are bound, so the caller can send without racing them.
"""
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
mode = sys.argv[1]
if mode == "send":
    s.bind(("", int(sys.argv[2])))
    s.sendto(sys.argv[5].encode(), (sys.argv[3], int(sys.argv[4])))
    if len(sys.argv) > 6 and sys.argv[6] == "wait":
        try:
            print(s.recvfrom(2048)[0].decode())
        except socket.timeout:
            print("timeout")
    sys.exit(0)
if mode not in ("recv", "echo"):
    sys.exit("udp_probe.py: unknown mode " + mode)
s.bind(("", int(sys.argv[2])))
open("ready-%s" % sys.argv[2], "w").close()
try:
    data, peer = s.recvfrom(2048)
except socket.timeout:
    print("timeout")
    sys.exit(0)
if mode == "echo":
    s.sendto(b"answer:" + data, peer)
print(data.decode())
