# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BIRD control-socket client and `show protocols` parser.

What `calicoctl node status` does, without calicoctl: connect to BIRD's
control socket, read the greeting, send a command, read the reply.

Reply format (BIRD's cli.c, same in 1.6 and 2.x): each line starts with a
4-digit code followed by `-` (more lines follow) or ` ` (last line of the
reply); a line starting with a single space continues the previous code;
`+` lines are asynchronous messages. 0xxx = done, 1xxx = table rows,
2xxx = table headings, 8xxx = run-time error, 9xxx = parse error.
"""

import ipaddress
import os
import re
import socket
import time

DEFAULT_SOCKETS = {
    4: ("/var/run/calico/bird.ctl", "/var/run/bird/bird.ctl"),
    6: ("/var/run/calico/bird6.ctl", "/var/run/bird/bird6.ctl"),
}
PEER_TYPES = {"Mesh_": "node-to-node mesh", "Node_": "node specific", "Global_": "global"}
BGP_STATES = frozenset(
    ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Close", "Passive", "Down")
)
MAX_REPLY_BYTES = 16 * 1024 * 1024

_CODE_LINE = re.compile(r"^(\d{4})(?:([ -])(.*))?$")
_PORT_SUFFIX = re.compile(r"^(.*)_port_(\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")


class BirdError(Exception):
    """Base class of everything this module raises."""


class BirdNotRunning(BirdError):
    """No BIRD answers: socket missing or connection refused."""

    def __init__(self, msg, paths=()):
        super().__init__(msg)
        self.paths = list(paths)


class BirdTimeout(BirdError):
    """BIRD accepted the connection but did not finish its reply in time."""


class BirdProtocolError(BirdError):
    """The reply does not follow BIRD's reply-code format."""


class BirdReplyError(BirdError):
    """BIRD answered with an error code (8xxx or 9xxx)."""

    def __init__(self, code, text, command=None):
        self.code = code
        self.text = text
        self.command = command
        where = f" to {command!r}" if command else ""
        super().__init__(f"BIRD answered {code} {text}{where}")


class BirdRuntimeError(BirdReplyError):
    """8xxx: the command was understood but failed (e.g. 8003 No protocols match)."""


class BirdParseError(BirdReplyError):
    """9xxx: the command was not understood (9001 syntax error, 9002 X is not a protocol)."""


def reply_error(code, text, command=None):
    cls = BirdParseError if code >= 9000 else BirdRuntimeError
    return cls(code, text, command)


def split_reply(lines):
    """Turn raw reply lines into (code, text) pairs.

    Continuation lines (leading space) inherit the previous code. Lines
    without a code (birdc's printed output) get code None, so captured
    `birdc show protocols` output parses too. Async `+` lines are dropped.
    """
    out = []
    code = None
    for raw in lines:
        line = raw.rstrip("\r\n")
        match = _CODE_LINE.match(line)
        if match:
            code = int(match.group(1))
            out.append((code, match.group(3) or ""))
        elif line.startswith(" "):
            out.append((code, line[1:]))
        elif line.startswith("+"):
            continue
        elif line.strip():
            out.append((None, line))
    return out


def _raise_on_error(pairs, command=None):
    for code, text in pairs:
        if code is not None and code >= 8000:
            raise reply_error(code, text.strip(), command)


class BirdClient:
    """One connection to a BIRD control socket; several commands may be sent."""

    def __init__(self, socket_path, timeout=5.0):
        self.socket_path = socket_path
        self.timeout = float(timeout)
        self.greeting = None
        self._sock = None
        self._buf = b""

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        self.close()

    def connect(self):
        self._deadline = time.monotonic() + self.timeout
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as exc:
            sock.close()
            raise BirdNotRunning(
                f"cannot connect to BIRD at {self.socket_path}: {exc.strerror or exc}",
                [self.socket_path],
            ) from exc
        except PermissionError as exc:
            sock.close()
            raise BirdError(f"permission denied on {self.socket_path}: the BIRD socket needs root") from exc
        except OSError as exc:
            sock.close()
            raise BirdNotRunning(f"cannot connect to BIRD at {self.socket_path}: {exc}", [self.socket_path]) from exc
        self._sock = sock
        greeting = self._read_reply("(greeting)")
        if not greeting or greeting[0][0] != 1:
            self.close()
            raise BirdProtocolError(f"unexpected greeting from {self.socket_path}: {greeting!r}")
        self.greeting = greeting[0][1]

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def version(self):
        """`1.6.8` from the greeting `0001 BIRD 1.6.8 ready.`"""
        parts = (self.greeting or "").split()
        return parts[1] if len(parts) >= 2 and parts[0] == "BIRD" else None

    def command(self, command):
        """Send one command; return the reply as raw lines (codes kept).

        Raises BirdRuntimeError / BirdParseError for 8xxx / 9xxx replies.
        """
        if "\n" in command:
            raise ValueError("a BIRD command is one line")
        self._deadline = time.monotonic() + self.timeout
        try:
            self._sock.sendall(command.encode() + b"\n")
        except OSError as exc:
            raise BirdNotRunning(f"BIRD at {self.socket_path} closed the connection: {exc}") from exc
        lines = self._read_lines(command)
        _raise_on_error(split_reply(lines), command)
        return lines

    def _read_reply(self, what):
        return split_reply(self._read_lines(what))

    def _read_lines(self, what):
        lines = []
        while True:
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace")
                lines.append(line)
                # A code followed by a space ends the reply (birdc does the same);
                # a bare code line (`0000`) is accepted as final too.
                if line[:4].isdigit() and (len(line) == 4 or line[4] == " "):
                    return lines
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise BirdTimeout(f"BIRD at {self.socket_path} did not finish its reply to {what} in time")
            self._sock.settimeout(remaining)
            try:
                data = self._sock.recv(65536)
            except TimeoutError as exc:
                raise BirdTimeout(
                    f"BIRD at {self.socket_path} did not finish its reply to {what} within {self.timeout:g}s"
                ) from exc
            except OSError as exc:
                raise BirdNotRunning(f"BIRD at {self.socket_path} closed the connection: {exc}") from exc
            if not data:
                raise BirdProtocolError(f"BIRD at {self.socket_path} closed the connection during {what}")
            self._buf += data
            if len(self._buf) > MAX_REPLY_BYTES:
                raise BirdProtocolError(f"reply from {self.socket_path} to {what} is too long")


def query(socket_path, command, timeout=5.0):
    """Connect, send one command, return the reply lines (raw, with codes)."""
    with BirdClient(socket_path, timeout) as client:
        return client.command(command)


def decode_peer_name(name):
    """`Mesh_10_0_1_202` -> ('10.0.1.202', None, 'node-to-node mesh').

    Returns None for protocols that are not BGP peers Calico creates. The
    address is None when the name has a peer prefix but no decodable IP.
    """
    prefix = next((p for p in PEER_TYPES if name.startswith(p)), None)
    if prefix is None:
        return None
    peer_type = PEER_TYPES[prefix]
    rest = name[len(prefix) :]
    port = None
    match = _PORT_SUFFIX.match(rest)
    if match:
        rest, port = match.group(1), int(match.group(2))
    return _decode_address(rest), port, peer_type


def _decode_address(text):
    # IPv4 first: `10_0_1_202`; IPv6 has 8 groups or `__` for `::`.
    for sep in (".", ":"):
        try:
            return str(ipaddress.ip_address(text.replace("_", sep)))
        except ValueError:
            continue
    return None


def _parse_row(text):
    """One protocol row -> dict, or None when it is not a row."""
    fields = text.split()
    if len(fields) < 4:
        return None
    name, proto, table, state = fields[:4]
    rest = fields[4:]
    since = ""
    if rest:
        since = rest.pop(0)
        # BIRD 2.x (and long-running 1.6) may print `2024-05-01 10:11:12`.
        if _DATE.match(since) and rest and _TIME.match(rest[0]):
            since = f"{since} {rest.pop(0)}"
    info = " ".join(rest)
    return {"name": name, "proto": proto, "table": table, "state": state, "since": since, "info": info}


def _is_heading(code, text):
    if code is not None:
        return 2000 <= code < 3000
    first = text.split(None, 1)[0] if text.strip() else ""
    return first in ("name", "Name") or text.startswith("BIRD ")


def parse_protocols(lines):
    """Parse a `show protocols` reply (raw socket lines or birdc output).

    Returns one dict per BGP peer protocol Calico creates (Mesh_, Node_,
    Global_): name, address, port, type, state, since, bgp_state, info,
    established. Rows with an empty info column are kept.
    """
    pairs = split_reply(lines)
    _raise_on_error(pairs)
    peers = []
    for code, text in pairs:
        if code is not None and code != 1002:
            continue
        if code is None and _is_heading(code, text):
            continue
        if text[:1].isspace():
            # `show protocols all` detail line inside a 1002 block (birdc output).
            continue
        row = _parse_row(text)
        if row is None:
            continue
        decoded = decode_peer_name(row["name"])
        if decoded is None:
            continue
        address, port, peer_type = decoded
        bgp_state = row["info"].split(None, 1)[0] if row["info"] else ""
        peers.append(
            {
                "name": row["name"],
                "address": address,
                "port": port,
                "type": peer_type,
                "state": row["state"],
                "since": row["since"],
                "bgp_state": bgp_state,
                "info": row["info"],
                "established": bgp_state == "Established",
            }
        )
    return peers


def parse_protocol_details(lines):
    """Parse `show protocols all`: {protocol name: {detail key: value}}.

    Keeps the `Key: value` lines (BGP state, Neighbor address, Source
    address, Hold timer, Last error, ...); route statistics are skipped.
    """
    pairs = split_reply(lines)
    _raise_on_error(pairs)
    details = {}
    current = None
    for code, text in pairs:
        if code == 1002:
            row = _parse_row(text)
            current = details.setdefault(row["name"], {}) if row else None
        elif code == 1006 and current is not None:
            key, sep, value = text.strip().partition(":")
            if sep and value.strip() and key and not key.endswith("stats"):
                current.setdefault(key.strip(), value.strip())
    return details


def parse_status(lines):
    """Parse `show status`: {bird_version, router_id, daemon_status, status_code}."""
    pairs = split_reply(lines)
    _raise_on_error(pairs)
    out = {"bird_version": None, "router_id": None, "daemon_status": None, "status_code": None}
    for code, text in pairs:
        if code == 1000 and text.startswith("BIRD "):
            out["bird_version"] = text.split()[1]
        elif code == 1011 and text.startswith("Router ID is "):
            out["router_id"] = text[len("Router ID is ") :].strip()
        elif code is not None and code < 1000:
            out["daemon_status"] = text.strip()
            out["status_code"] = code
    return out


def read_bgp_status(socket_path, timeout=5.0):
    """Status and BGP peers of the BIRD behind one socket (one connection)."""
    with BirdClient(socket_path, timeout) as client:
        status = parse_status(client.command("show status"))
        peers = parse_protocols(client.command("show protocols"))
        version = status["bird_version"] or client.version
    return {
        "bird_version": version,
        "router_id": status["router_id"],
        "daemon_status": status["daemon_status"],
        "socket": socket_path,
        "peers": peers,
    }


def socket_candidates(ip_version, socket_path=None):
    """Paths to try for one IP version, in order."""
    if socket_path:
        if ip_version == 6 and os.path.basename(socket_path) == "bird.ctl":
            return [os.path.join(os.path.dirname(socket_path), "bird6.ctl")]
        return [socket_path]
    return list(DEFAULT_SOCKETS[ip_version])


def _read_first(candidates, timeout):
    last = None
    for path in candidates:
        if not os.path.exists(path):
            continue
        try:
            return read_bgp_status(path, timeout)
        except BirdNotRunning as exc:
            last = exc
    looked = ", ".join(candidates)
    detail = f" ({last})" if last else " (no socket file)"
    raise BirdNotRunning(
        f"calico-node / BIRD is not running on this host: no BIRD control socket answers at {looked}{detail}",
        candidates,
    )


def collect_bgp_status(ip_version="4", socket_path=None, timeout=5.0):
    """The module's view: one IP version, or `all` (IPv4 + IPv6 merged).

    With `all`, IPv4 is required and IPv6 is read when its socket exists
    (BIRD 1.6 runs a separate bird6; BIRD 2.x serves both on one socket).
    An explicit `socket_path` is the IPv4 socket; IPv6 uses bird6.ctl beside it.
    """
    if str(ip_version) == "6":
        return _read_first(socket_candidates(6, socket_path), timeout)
    result = _read_first(socket_candidates(4, socket_path), timeout)
    result["sockets"] = [result["socket"]]
    if str(ip_version) == "all":
        v6 = [p for p in socket_candidates(6, socket_path) if os.path.exists(p)]
        if v6 and v6[0] != result["socket"]:
            other = _read_first(v6, timeout)
            result["sockets"].append(other["socket"])
            result["router_id_v6"] = other["router_id"]
            seen = {p["name"] for p in result["peers"]}
            result["peers"] += [p for p in other["peers"] if p["name"] not in seen]
    return result


def peer_states(peers):
    """{address: established?} - any Established protocol to an address counts."""
    out = {}
    for peer in peers:
        if peer["address"]:
            out[peer["address"]] = out.get(peer["address"], False) or peer["established"]
    return out


def normalize_peers(expect_peers):
    """Validate and canonicalise peer IPs (a /prefix is ignored)."""
    out = set()
    for ip in expect_peers or ():
        try:
            out.add(str(ipaddress.ip_address(str(ip).split("/", maxsplit=1)[0].strip())))
        except ValueError:
            raise ValueError(f"expect_peers: {ip!r} is not an IP address; pass peer IPs such as 10.0.1.203") from None
    return sorted(out)


def wait_for_peers(expect_peers, ip_version="4", socket_path=None, timeout=5.0, wait_timeout=0, retry_interval=2):
    """Poll until every expected peer is Established or wait_timeout passes.

    Returns the last status plus `expected_established` (bool), `waiting_for`
    (peers still not Established) and `waited` (seconds). Never fails for a
    peer that is not Established: judging is the mesh check's job.
    """
    expected = normalize_peers(expect_peers)
    start = time.monotonic()
    deadline = start + max(0.0, float(wait_timeout))
    while True:
        result = collect_bgp_status(ip_version, socket_path, timeout)
        states = peer_states(result["peers"])
        waiting = [ip for ip in expected if not states.get(ip)]
        now = time.monotonic()
        if not waiting or now >= deadline:
            break
        time.sleep(min(max(float(retry_interval), 0.1), max(deadline - now, 0.0)))
    result["expected_established"] = not waiting
    result["waiting_for"] = waiting
    result["waited"] = round(time.monotonic() - start, 3)
    return result
