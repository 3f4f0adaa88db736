#!/usr/bin/python3
"""tests/unit/srp_ref.py - the independent implementation of SRP-6a as
docs/protocol.md ("Owner sign-in (SRP-6a)") specifies it, in Python ints and
hashlib, that produced the known answers of tests/unit/test_srp.c which the
RFC does not fix (K, M1, M2; the 3072- and 4096-bit groups with SHA-256).
The primes are computed from RFC 3526's defining formula (pi by Machin's
formula), not copied, so the test also checks OpenSSL's constants. Not run
by the tests; run it by hand to regenerate or extend the values:

    python3 tests/unit/srp_ref.py

It first checks itself against RFC 5054 appendix B."""
import hashlib
from decimal import Decimal, getcontext

N1024 = int(
    "EEAF0AB9ADB38DD69C33F80AFA8FC5E86072618775FF3C0B9EA2314C9C256576D674DF7496EA81D3383B48"
    "13D692C6E0E0D5D8E250B98BE48E495C1D6089DAD15DC7D7B46154D6B6CE8EF4AD69B15D4982559B297BCF"
    "1885C529F566660E57EC68EDBC3C05726CC02FD4CBF4976EAA9AFD5138FE8376435B9FC61D2FC0EB06E3",
    16,
)


def machin_pi(digits):
    getcontext().prec = digits + 10

    def arctan_inv(x):
        x = Decimal(x)
        total, term, n, sign, x2 = Decimal(0), 1 / x, 1, 1, x * x
        eps = Decimal(10) ** (-digits)
        while term / n > eps:
            total += sign * term / n
            term /= x2
            n += 2
            sign = -sign
        return total

    return 16 * arctan_inv(5) - 4 * arctan_inv(239)


def rfc3526_prime(bits):
    """p = 2^b - 2^(b-64) - 1 + 2^64 * (floor(2^(b-130) * pi) + c), RFC 3526."""
    c = {3072: 1690314, 4096: 240904}[bits]
    pi = machin_pi(1400)
    return 2**bits - 2 ** (bits - 64) - 1 + 2**64 * (int(Decimal(2 ** (bits - 130)) * pi) + c)


def H(name, *parts):
    h = hashlib.new(name)
    for p in parts:
        h.update(p)
    return h.digest()


def pad(z, n):
    return z.to_bytes(n, "big")


def minimal(z):
    return z.to_bytes(max(1, (z.bit_length() + 7) // 8), "big")


def exchange(N, g, hname, I, s, x, a, b):
    L = (N.bit_length() + 7) // 8
    i = lambda bs: int.from_bytes(bs, "big")
    k = i(H(hname, pad(N, L), pad(g, L)))
    v = pow(g, x, N)
    A = pow(g, a, N)
    B = (k * v + pow(g, b, N)) % N
    u = i(H(hname, pad(A, L), pad(B, L)))
    S_client = pow((B - k * pow(g, x, N)) % N, a + u * x, N)
    S_server = pow(A * pow(v, u, N) % N, b, N)
    assert S_client == S_server
    K = H(hname, pad(S_client, L))
    hx = bytes(p ^ q for p, q in zip(H(hname, minimal(N)), H(hname, minimal(g))))
    M1 = H(hname, hx, H(hname, I), s, pad(A, L), pad(B, L), K)
    M2 = H(hname, pad(A, L), M1, K)
    return dict(L=L, k=k, v=v, A=A, B=B, u=u, S=S_client, K=K, M1=M1, M2=M2)


def main():
    # RFC 5054 appendix B.
    s = bytes.fromhex("BEB25379D1A8581EB5A727673A2441EE")
    x = int.from_bytes(H("sha1", s, H("sha1", b"alice:password123")), "big")
    r = exchange(
        N1024, 2, "sha1", b"alice", s, x,
        0x60975527035CF2AD1989806F0407210BC81EDC04E2762A56AFD529DDDA2D4393,
        0xE487CB59D31AC550471E81F00F6928E01DDA08E974A004F49E61F5D105284D20,
    )
    assert x == 0x94B7555AABE9127CC58CCF4993DB6CF84D16C124
    assert r["k"] == 0x7556AA045AEF2CDD07ABAF0F665C3E818913186F
    assert r["u"] == 0xCE38B9593487DA98554ED47D70A7AE5F462EF019
    assert "%X" % r["S"] == (
        "B0DC82BABCF30674AE450C0287745E7990A3381F63B387AAF271A10D233861E359B48220F7C4693C"
        "9AE12B0A6F67809F0876E2D013800D6C41BB59B6D5979B5C00A172B4A2A5903A0BDCAF8A709585EB"
        "2AFAFA8F3499B200210DCC1F10EB33943CD67FC88A2F39A4BE5BEC4EC0A3212DC346D7E474B29EDE"
        "8A469FFECA686E5A"
    )
    print("RFC 5054 group: K %s M1 %s M2 %s" % (r["K"].hex(), r["M1"].hex(), r["M2"].hex()))

    # The SHA-256 known answers (KAT_* in test_srp.c).
    for bits in (4096, 3072):
        r = exchange(
            rfc3526_prime(bits), 5, "sha256", b"owner@example.com",
            bytes.fromhex("a1a2a3a4a5a6a7a8a9aaabacadaeafb0"),
            0x151DA24696A691AF74C1CDDABB5598DA3CF8D0AC30E9F469EBAFCF5A3AAB0855,
            int("11" * 32, 16), int("22" * 32, 16),
        )
        sha = lambda z: hashlib.sha256(pad(z, r["L"])).hexdigest()
        print(bits)
        print("  k  %064x\n  v  %s (SHA-256)\n  A  %s (SHA-256)\n  B  %s (SHA-256)\n  u  %064x"
              % (r["k"], sha(r["v"]), sha(r["A"]), sha(r["B"]), r["u"]))
        print("  K  %s\n  M1 %s\n  M2 %s" % (r["K"].hex(), r["M1"].hex(), r["M2"].hex()))


if __name__ == "__main__":
    main()
