# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPIP underlay probe: packets, the probe process, collection and the matrix.

Calico in IPIP mode needs IP protocol 4 between every pair of nodes. A cloud
firewall that allows tcp/udp/icmp only lets BGP come up while every IPIP
packet is dropped. This probe proves protocol 4 passes, independently of
Calico's routes and of any tunl0 device: each node sends raw protocol-4
packets (an IPIP-encapsulated ICMP echo) to each peer, and a raw listener on
the peer records who it heard from.

Two Ansible rounds at most, with any number of forks:

1. ``start`` on every node (verification does it inside its BGP status
   call): a detached process with a hard deadline opens the raw socket (so
   it listens from the moment the call returns) and sends one packet to
   every peer. Every packet carries the sender's column (a bitmap of the
   peers it has heard from, over the sorted peer list). A node answers a
   packet whose column lacks it (that sender has not heard it yet), and
   sends its column to the collector whenever the column grows (the
   collector marks its packets, so every node learns which one it is). To
   peers it has not heard it re-sends every ``interval`` for the first
   bursts, then every ``8 * interval``, a safety net for lost packets: a
   node that starts late is answered at once by every node that hears it.
   So a healthy run costs a few packets per pair, not a storm of N^2 per
   interval.
2. ``collect`` on ONE node (the collector): it waits until its process has
   heard every peer and every peer's full column (or ``wait`` seconds),
   reads the whole matrix, sends a stop packet to the peers that can hear
   it (they exit and remove their files), stops its own process and removes
   its files. Only the nodes that cannot hear it (as their column says, or
   whose column never arrived) are collected directly, with the same call.

Why this is correct when round 1 takes longer than any timer: a sender keeps
re-sending to a peer until it has heard that peer (whose listener was
therefore up), and a listener answers every packet that shows its sender
has not heard it; a sender that has not heard a peer keeps sending until
stopped or its deadline. Collection starts after round 1 has reached every
node, so every listener is up by then.
Files: ``packet`` (the codec), ``inputs``, ``files`` (state and pid files),
``prober`` (the process's logic and loop), ``process`` (start, collect,
stop), ``matrix`` (the controller's view), ``errors``. Standard library
only: the probe runs on the nodes with their system Python.
"""
