#!/usr/bin/env python3
"""Sends or receives raw Ethernet frames, for the bridge test.

  raw_frames.py send IFACE     sends the test frames
  raw_frames.py recv IFACE SECONDS OUT   writes every frame seen, hex, one per line
"""
import socket
import struct
import sys
import time

SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40

SRC = bytes.fromhex("020000000001")
DST = bytes.fromhex("020000000002")


def frames():
    pad = bytes(range(46))
    return [
        # An ethertype nobody decodes (IEEE local experimental).
        DST + SRC + b"\x88\xb5" + pad,
        # IPv4 with an impossible header length: malformed, must still be forwarded.
        DST + SRC + b"\x08\x00" + b"\x42" + pad[1:],
        # Stacked 802.1Q tags 100 and 200, then the experimental ethertype. (An 802.1ad outer
        # TPID would come back as 0x8100: Linux hands af_packet the outer tag as metadata and
        # DPDK's net_af_packet re-inserts it as 802.1Q. PCI ports keep frames as they are.)
        DST + SRC + b"\x81\x00\x00\x64\x81\x00\x00\xc8\x88\xb5" + pad,
        # A single 802.1Q tag with priority 5 over IPv6-looking garbage.
        DST + SRC + b"\x81\x00\xa0\x0a\x86\xdd" + pad,
        # MPLS label 16 over something that is neither IPv4 nor IPv6.
        DST + SRC + b"\x88\x47\x00\x01\x01\x40" + b"\x00" * 46,
    ]


def main():
    mode, iface = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    if mode == "send":
        for f in frames():
            s.send(f)
        for f in frames():
            print(f.hex())
        return
    # The kernel may move the outer VLAN tag into metadata; PACKET_AUXDATA gives it back so that
    # we compare the frame as it was on the wire (as tcpdump does).
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    deadline = time.time() + float(sys.argv[3])
    s.settimeout(0.2)
    with open(sys.argv[4], "w") as out:
        while time.time() < deadline:
            try:
                data, anc, _, addr = s.recvmsg(65535, socket.CMSG_SPACE(20))
            except socket.timeout:
                continue
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            for level, kind, value in anc:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= 20:
                    status, _, _, _, _, tci, tpid = struct.unpack("IIIHHHH", value[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        if not status & TP_STATUS_VLAN_TPID_VALID:
                            tpid = 0x8100
                        data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
            out.write(data.hex() + "\n")
            out.flush()


if __name__ == "__main__":
    main()
