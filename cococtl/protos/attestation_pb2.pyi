from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AttestationRequest(_message.Message):
    __slots__ = ("verification_requests", "policy_ids")
    VERIFICATION_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    POLICY_IDS_FIELD_NUMBER: _ClassVar[int]
    verification_requests: _containers.RepeatedCompositeFieldContainer[IndividualAttestationRequest]
    policy_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, verification_requests: _Optional[_Iterable[_Union[IndividualAttestationRequest, _Mapping]]] = ..., policy_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class IndividualAttestationRequest(_message.Message):
    __slots__ = ("tee", "evidence", "raw_runtime_data", "structured_runtime_data", "init_data_digest", "init_data_toml", "runtime_data_hash_algorithm")
    TEE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    RAW_RUNTIME_DATA_FIELD_NUMBER: _ClassVar[int]
    STRUCTURED_RUNTIME_DATA_FIELD_NUMBER: _ClassVar[int]
    INIT_DATA_DIGEST_FIELD_NUMBER: _ClassVar[int]
    INIT_DATA_TOML_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_DATA_HASH_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    tee: str
    evidence: str
    raw_runtime_data: str
    structured_runtime_data: str
    init_data_digest: str
    init_data_toml: str
    runtime_data_hash_algorithm: str
    def __init__(self, tee: _Optional[str] = ..., evidence: _Optional[str] = ..., raw_runtime_data: _Optional[str] = ..., structured_runtime_data: _Optional[str] = ..., init_data_digest: _Optional[str] = ..., init_data_toml: _Optional[str] = ..., runtime_data_hash_algorithm: _Optional[str] = ...) -> None: ...

class AttestationResponse(_message.Message):
    __slots__ = ("attestation_token",)
    ATTESTATION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    attestation_token: str
    def __init__(self, attestation_token: _Optional[str] = ...) -> None: ...

class SetPolicyRequest(_message.Message):
    __slots__ = ("policy_id", "policy")
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy_id: str
    policy: str
    def __init__(self, policy_id: _Optional[str] = ..., policy: _Optional[str] = ...) -> None: ...

class SetPolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ChallengeRequest(_message.Message):
    __slots__ = ("inner",)
    class InnerEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INNER_FIELD_NUMBER: _ClassVar[int]
    inner: _containers.ScalarMap[str, str]
    def __init__(self, inner: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ChallengeResponse(_message.Message):
    __slots__ = ("attestation_challenge",)
    ATTESTATION_CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    attestation_challenge: str
    def __init__(self, attestation_challenge: _Optional[str] = ...) -> None: ...
