"""The fixed choices of options, as enums: Typer makes them real choices (listed in help, completed, a wrong
value exits 2). StrEnum members are strings, so the library receives what it received before.

The library keeps its own tuples of accepted values (it is used without the CLI, and importing it here would
slow start-up); ``tests/cli/test_help.py`` checks that both agree.
"""

from __future__ import annotations

from enum import StrEnum


class Tee(StrEnum):
    """Where evidence comes from (``cococtl.evidence.detect.TEE_CHOICES``)."""

    auto = "auto"
    sample = "sample"
    tdx = "tdx"
    snp = "snp"
    sgx = "sgx"
    az_snp_vtpm = "az-snp-vtpm"
    az_tdx_vtpm = "az-tdx-vtpm"
    cca = "cca"
    csv = "csv"
    se = "se"
    tpm = "tpm"


class KbsTee(StrEnum):
    """The TEE of the evidence sent to a KBS: the built-in attesters, or any TEE the KBS knows when the evidence
    comes from --attester-cmd (``cococtl.evidence.detect.KBS_TEES``)."""

    auto = "auto"
    sample = "sample"
    sampledevice = "sampledevice"
    tdx = "tdx"
    snp = "snp"
    sgx = "sgx"
    az_snp_vtpm = "az-snp-vtpm"
    az_tdx_vtpm = "az-tdx-vtpm"
    cca = "cca"
    csv = "csv"
    se = "se"
    hygondcu = "hygondcu"
    tpm = "tpm"
    nvidia = "nvidia"
    nvidia_dpu = "nvidia-dpu"


class TeeKeyType(StrEnum):
    """The TEE key pair to generate (``cococtl.kbs.jwe.KEY_TYPES``, then the opt-in ``EXPERIMENTAL_KEY_TYPES``)."""

    ec_p256 = "ec-p256"
    ec_p521 = "ec-p521"
    rsa = "rsa"
    rsa1_5 = "rsa1_5"
    ml_kem_768 = "ml-kem-768"


class AsTee(StrEnum):
    """TEE names an Attestation Service takes (RESTful ``AS_TEES`` and gRPC ``GRPC_TEES``)."""

    az_snp_vtpm = "az-snp-vtpm"
    az_tdx_vtpm = "az-tdx-vtpm"
    cca = "cca"
    csv = "csv"
    hygondcu = "hygondcu"
    nvidia = "nvidia"
    sample = "sample"
    sampledevice = "sampledevice"
    se = "se"
    sgx = "sgx"
    snp = "snp"
    tdx = "tdx"
    tpm = "tpm"


class AsEvidenceTee(StrEnum):
    """``as attest --tee``: a TEE name, or auto (collect evidence here)."""

    auto = "auto"
    az_snp_vtpm = "az-snp-vtpm"
    az_tdx_vtpm = "az-tdx-vtpm"
    cca = "cca"
    csv = "csv"
    hygondcu = "hygondcu"
    nvidia = "nvidia"
    sample = "sample"
    sampledevice = "sampledevice"
    se = "se"
    sgx = "sgx"
    snp = "snp"
    tdx = "tdx"
    tpm = "tpm"


class HashAlgorithm(StrEnum):
    """Runtime-data hash of an AS request (``cococtl.kbs.as_client.HASH_ALGORITHMS``)."""

    sha256 = "sha256"
    sha384 = "sha384"
    sha512 = "sha512"
    sm3 = "sm3"


class AlgoType(StrEnum):
    """How an algorithm runs (``cococtl.compute.executors.ALGO_TYPES``)."""

    python = "python"
    bin = "bin"
    wasm = "wasm"
    docker = "docker"


class Engine(StrEnum):
    """Who encrypts image layers."""

    native = "native"
    skopeo = "skopeo"


class AdminMode(StrEnum):
    """How the KBS double checks admin requests (``cococtl.devkbs.admin.ADMIN_MODES``)."""

    insecure = "insecure"
    deny = "deny"
    bearer = "bearer"
    legacy = "legacy"


class ProvenanceType(StrEnum):
    """RVPS provenance types."""

    sample = "sample"
    swid = "swid"
    corim = "corim"


class WasmRuntime(StrEnum):
    """What runs wasm algorithms."""

    wasmtime = "wasmtime"
    wasmedge = "wasmedge"


class DigestAlgorithm(StrEnum):
    """Init-data digest algorithms kata accepts (``cococtl.initdata.core.ALGORITHMS``)."""

    sha256 = "sha256"
    sha384 = "sha384"
    sha512 = "sha512"


class SnippetTee(StrEnum):
    """TEEs whose init-data claim a policy snippet matches (``cococtl.initdata.snippet.TEES``)."""

    sample = "sample"
    tdx = "tdx"
    snp = "snp"


class PolicyKind(StrEnum):
    """What ``initdata policy-snippet`` prints."""

    resource = "resource"
    attestation = "attestation"
