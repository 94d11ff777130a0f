"""Issuers as anvil-fcgi reads them for the name policy, for API tests that run no signer: the
workers parse the signer's issuer and profile sections but never open a certificate."""

ISSUERS = {
    "root": {"key_label": "r", "subject": "CN=Test Root", "cert": "/nonexistent/root.pem"},
    "int": {"key_label": "i", "subject": "CN=Test Int", "cert": "/nonexistent/int.pem",
            "parent": "root"},
}
