"""A minimal FastCGI client (responder role) for tests that talk to anvil-fcgi's socket directly,
past nginx: to send what nginx would refuse or never send (a body over nginx's cap, a bad
CONTENT_LENGTH). request() returns (status, headers dict with lower-case names, body bytes)."""
import socket
import struct

VERSION = 1
BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR = 1, 3, 4, 5, 6, 7
RESPONDER = 1


def _record(rtype, content, req_id=1):
    return struct.pack(">BBHHBB", VERSION, rtype, req_id, len(content), 0, 0) + content


def _nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def _params(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        out += _nv_len(len(k)) + _nv_len(len(v)) + k + v
    return out


def _chunks(data, size=65535):
    return [data[i:i + size] for i in range(0, len(data), size)]


def request(sock_path, params, body=b"", timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    try:
        msg = _record(BEGIN_REQUEST, struct.pack(">HB5x", RESPONDER, 0))
        for c in _chunks(_params(params)):
            msg += _record(PARAMS, c)
        msg += _record(PARAMS, b"")
        for c in _chunks(body):
            msg += _record(STDIN, c)
        msg += _record(STDIN, b"")
        s.sendall(msg)
        out, buf = b"", b""
        while True:
            while len(buf) < 8:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("anvil-fcgi closed the connection early")
                buf += chunk
            _, rtype, _, clen, plen, _ = struct.unpack(">BBHHBB", buf[:8])
            while len(buf) < 8 + clen + plen:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("anvil-fcgi closed the connection early")
                buf += chunk
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if rtype == STDOUT:
                out += content
            elif rtype == END_REQUEST:
                break
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body
