"""A small PKI made with python3-cryptography for the CT tests: a root, an issuing CA,
precertificates (critical poison extension, RFC 6962 3.1) and the matching final certificates
carrying a given SignedCertificateTimestampList, with the same TBS but for those two
extensions, as the signer would build them."""
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


class CA:
    def __init__(self, days_root=3650):
        now = datetime.datetime.now(datetime.timezone.utc)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = (x509.CertificateBuilder().subject_name(_name("CT Test Root"))
                     .issuer_name(_name("CT Test Root"))
                     .public_key(self.root_key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=days_root))
                     .add_extension(x509.BasicConstraints(True, None), True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), True)
                     .sign(self.root_key, hashes.SHA256()))
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (x509.CertificateBuilder().subject_name(_name("CT Test Issuer"))
                     .issuer_name(self.root.subject).public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=days_root - 1))
                     .add_extension(x509.BasicConstraints(True, 0), True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), True)
                     .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                         self.root_key.public_key()), False)
                     .sign(self.root_key, hashes.SHA256()))

    def _builder(self, name, days, serial, subject_key, not_before):
        return (x509.CertificateBuilder().subject_name(_name(name))
                .issuer_name(self.cert.subject).public_key(subject_key.public_key())
                .serial_number(serial).not_valid_before(not_before)
                .not_valid_after(not_before + datetime.timedelta(days=days, seconds=-1))
                .add_extension(x509.BasicConstraints(False, None), True)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.key.public_key()), False))

    def pair(self, name="ct.example.test", days=90):
        """Returns (precert, final(sct_list) -> certificate) for one TBS."""
        serial = x509.random_serial_number()
        subject_key = ec.generate_private_key(ec.SECP256R1())
        nb = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) - \
            datetime.timedelta(minutes=5)
        pre = (self._builder(name, days, serial, subject_key, nb)
               .add_extension(x509.PrecertPoison(), True)
               .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                              False)
               .sign(self.key, hashes.SHA256()))

        def final(sct_list):
            # extnValue holds an OCTET STRING wrapping the TLS-encoded list (RFC 6962 3.3).
            n = len(sct_list)
            inner = b"\x04" + (bytes([n]) if n < 128 else
                               (b"\x81" + bytes([n]) if n < 256 else
                                b"\x82" + n.to_bytes(2, "big"))) + sct_list
            return (self._builder(name, days, serial, subject_key, nb)
                    .add_extension(x509.UnrecognizedExtension(SCT_LIST_OID, inner), False)
                    .add_extension(x509.ExtendedKeyUsage(
                        [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
                    .sign(self.key, hashes.SHA256()))
        return pre, final

    def write(self, d):
        """Writes root.pem, issuer.pem; returns their paths."""
        paths = []
        for n, c in (("root.pem", self.root), ("issuer.pem", self.cert)):
            p = os.path.join(d, n)
            with open(p, "wb") as f:
                f.write(pem(c))
            paths.append(p)
        return paths
