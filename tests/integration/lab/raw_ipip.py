"""Send and receive raw IP protocol 4 packets inside lab nodes (test helper).

Runs with the nodes' system python: `python3 raw_ipip.py listen SECONDS` prints
the source of every protocol-4 packet it receives; `send DST` sends three.
"""

import socket
import sys
import time

if sys.argv[1] == "listen":
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
    deadline = time.monotonic() + float(sys.argv[2])
    print("ready", flush=True)
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            _, addr = sock.recvfrom(2048)
        except TimeoutError:
            break
        print(addr[0], flush=True)
else:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
    for _ in range(3):
        sock.sendto(b"\x45" + b"\x00" * 39, (sys.argv[2], 0))
        time.sleep(0.05)
