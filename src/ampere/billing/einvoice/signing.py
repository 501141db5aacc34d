"""XML-DSig of e-invoices with the seller's certificate (signxml: RSA-SHA256, SHA-256 digests,
inclusive C14N 1.0). The signature references DLHDon by its Id and sits in DSCKS/NBan."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.exceptions import InvalidInput as SignxmlInvalidInput
from signxml.exceptions import InvalidSignature
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from ampere.core.errors import DomainError, InvalidInput

C14N = CanonicalizationMethod.CANONICAL_XML_1_0
_EXPECT = SignatureConfiguration(expect_references=1, default_reference_c14n_method=C14N)


class SigningCredentialsMissing(DomainError):
    code = "signing-credentials-missing"


class SignatureInvalid(DomainError):
    code = "signature-invalid"


@dataclass(frozen=True)
class SigningCredentials:
    """The seller's private key and certificate, PEM. Kept in files, never in the database.

    Parsed once here: loading an RSA key checks it, which costs ~0.1 s, far more than a signature.
    """

    key_pem: bytes
    certificate_pem: bytes
    key: rsa.RSAPrivateKey = field(init=False, repr=False, compare=False)
    certificate: x509.Certificate = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            key = serialization.load_pem_private_key(self.key_pem, password=None)
            certificate = x509.load_pem_x509_certificate(self.certificate_pem)
        except (ValueError, TypeError) as error:
            raise InvalidInput(
                f"unreadable key or certificate: {error}", field="credentials"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise InvalidInput("the seller's key must be an RSA key", field="credentials")
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        certified = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if public != certified:
            raise InvalidInput("the key does not belong to the certificate", field="credentials")
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "certificate", certificate)


def load_credentials(*, directory: Path, utility_code: str) -> SigningCredentials:
    """Read ``<utility_code>.key.pem`` and ``<utility_code>.cert.pem`` from ``directory``
    (parsed once per process while the files stay unchanged).

    Raises SigningCredentialsMissing naming the file that is missing.
    """
    key_path = directory / f"{utility_code}.key.pem"
    cert_path = directory / f"{utility_code}.cert.pem"
    stamps: list[int] = []
    for path in (key_path, cert_path):
        if not path.is_file():
            raise SigningCredentialsMissing(
                f"no e-invoice signing file {path} for utility {utility_code!r}",
                field="signing_credentials",
            )
        stamps.append(path.stat().st_mtime_ns)
    return _read_credentials(str(key_path), str(cert_path), stamps[0], stamps[1])


@lru_cache(maxsize=16)
def _read_credentials(key_path: str, cert_path: str, *stamps: int) -> SigningCredentials:
    return SigningCredentials(Path(key_path).read_bytes(), Path(cert_path).read_bytes())


def sign_invoice(root: etree._Element, *, credentials: SigningCredentials) -> etree._Element:
    """Sign DLHDon of an HDon built by ``document.build_invoice``; returns the signed tree."""
    body = root.find("DLHDon")
    holder = root.find("DSCKS/NBan")
    if body is None or holder is None or not body.get("Id"):
        raise InvalidInput("an invoice needs DLHDon with an Id and DSCKS/NBan", field="xml")
    signer = XMLSigner(
        method=SignatureConstructionMethod.detached,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=C14N,
    )
    signature = signer.sign(
        root,
        key=credentials.key,
        cert=[credentials.certificate],
        reference_uri=f"#{body.get('Id')}",
    )
    holder.append(signature)
    return root


def verify_invoice(xml: bytes, *, certificate_pem: bytes) -> etree._Element:
    """Check the seller's signature over DLHDon; returns the signed DLHDon element.

    Raises SignatureInvalid when the invoice was changed or signed by another key.
    """
    try:
        result = XMLVerifier().verify(
            xml,
            x509_cert=certificate_pem.decode("ascii"),
            expect_config=_EXPECT,
        )
    except (InvalidSignature, SignxmlInvalidInput) as error:
        raise SignatureInvalid(
            f"the e-invoice signature does not verify: {error}", field="xml"
        ) from None
    assert not isinstance(result, list)
    signed = result.signed_xml
    if signed is None or signed.tag != "DLHDon":
        raise SignatureInvalid("the signature does not cover DLHDon", field="xml")
    return signed


def self_signed_credentials(
    *, common_name: str, organisation: str, country: str, valid_from: datetime
) -> SigningCredentials:
    """A new RSA key and a self-signed certificate (tests and demo utilities only: a real seller
    signs with the certificate its certification authority issued)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_from + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return SigningCredentials(
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM),
    )


def write_credentials(
    credentials: SigningCredentials, *, directory: Path, utility_code: str
) -> None:
    """Store ``<utility_code>.key.pem`` (mode 600) and ``.cert.pem`` where ``load_credentials``
    reads them."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / f"{utility_code}.key.pem"
    key_path.write_bytes(credentials.key_pem)
    key_path.chmod(0o600)
    (directory / f"{utility_code}.cert.pem").write_bytes(credentials.certificate_pem)
