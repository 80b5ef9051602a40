"""Init-data (Trustee kbs/docs/initdata.md): documents, digests, TEE register forms, the Kata annotation."""

from cococtl.initdata.core import (
    ALGORITHMS,
    ANNOTATION,
    TEE_REGISTERS,
    InitData,
    decode_annotation,
    digest_report,
    encode_annotation,
    parse,
    regularize,
)

__all__ = [
    "ALGORITHMS",
    "ANNOTATION",
    "TEE_REGISTERS",
    "InitData",
    "decode_annotation",
    "digest_report",
    "encode_annotation",
    "parse",
    "regularize",
]
