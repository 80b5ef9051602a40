//! cococtl test peer: the `kbs-types` crate (the serde types Trustee's KBS deserializes) judges KBS
//! protocol 0.4.0 bodies.
//!
//! Every command reads JSON on stdin (except `make challenge`) and prints one JSON document:
//! `{"ok":true,...}` or `{"ok":false,"error":"<serde error>"}`, exiting 0 either way. Usage errors
//! exit 2.
//!
//!   parse request|challenge|attestation|response|tee-pubkey|protected-header|runtime-data|
//!         composite-evidence|init-data|error-information|tee|additional-evidence
//!       deserialize with the crate's type; `value` is the crate's re-serialisation.
//!       `additional-evidence` takes the *text* of `tee-evidence.additional_evidence` (a JSON
//!       string on stdin) and parses it as `HashMap<Tee, Value>`, as trustee's KBS does.
//!   aad
//!       stdin is a resource Response; prints `ProtectedHeader::generate_aad()`, the AAD Trustee
//!       encrypts with and guest-components decrypts with.
//!   binding [sha256|sha384|sha512|sm3]
//!       stdin is an Attestation body; prints the runtime data the KBS hands the attestation
//!       service for the primary evidence ({"tee-pubkey": re-serialised TeePubKey, "nonce",
//!       "additional-evidence"}) and for additional devices ({"tee-pubkey", "nonce"}), their JCS
//!       text and `HashAlgorithm::digest` (standard base64). Default hash: `HashAlgorithm::default()`.
//!   make challenge NONCE [EXTRA_PARAMS_JSON]
//!       the crate's serialisation of a Challenge (extra-params defaults to "").

use std::collections::HashMap;
use std::io::Read;
use std::process::ExitCode;
use std::str::FromStr;

use base64::{engine::general_purpose::STANDARD, Engine};
use kbs_types::{
    Attestation, Challenge, CompositeEvidence, ErrorInformation, HashAlgorithm, InitData,
    ProtectedHeader, Request, Response, RuntimeData, Tee, TeePubKey,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

const USAGE: &str = "usage: kbs-types-peer parse KIND | aad | binding [HASH] | make challenge NONCE [EXTRA_PARAMS_JSON]
  KIND: request challenge attestation response tee-pubkey protected-header runtime-data
        composite-evidence init-data error-information tee additional-evidence";

type Outcome = Result<Value, String>;

fn parse_as<T: DeserializeOwned + Serialize>(input: &str) -> Outcome {
    let parsed: T = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let value = serde_json::to_value(&parsed).map_err(|e| format!("re-serialisation: {e}"))?;
    Ok(json!({ "value": value }))
}

fn parse_additional_evidence(input: &str) -> Outcome {
    // stdin holds the JSON string member itself; its content is parsed as trustee does.
    let text: String = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let map: HashMap<Tee, Value> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let value = serde_json::to_value(&map).map_err(|e| format!("re-serialisation: {e}"))?;
    Ok(json!({ "value": value }))
}

fn parse(kind: &str, input: &str) -> Option<Outcome> {
    Some(match kind {
        "request" => parse_as::<Request>(input),
        "challenge" => parse_as::<Challenge>(input),
        "attestation" => parse_as::<Attestation>(input),
        "response" => parse_as::<Response>(input),
        "tee-pubkey" => parse_as::<TeePubKey>(input),
        "protected-header" => parse_as::<ProtectedHeader>(input),
        "runtime-data" => parse_as::<RuntimeData>(input),
        "composite-evidence" => parse_as::<CompositeEvidence>(input),
        "init-data" => parse_as::<InitData>(input),
        "error-information" => parse_as::<ErrorInformation>(input),
        "tee" => parse_as::<Tee>(input),
        "additional-evidence" => parse_additional_evidence(input),
        _ => return None,
    })
}

fn aad(input: &str) -> Outcome {
    let response: Response = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let aad = response.protected.generate_aad().map_err(|e| e.to_string())?;
    let aad = String::from_utf8(aad).map_err(|e| e.to_string())?;
    Ok(json!({ "aad": aad }))
}

fn canonical(value: &Value, hash: HashAlgorithm) -> Result<(String, String), String> {
    let text = serde_json_canonicalizer::to_string(value).map_err(|e| e.to_string())?;
    let digest = STANDARD.encode(hash.digest(text.as_bytes()));
    Ok((text, digest))
}

fn binding(input: &str, hash: HashAlgorithm) -> Outcome {
    let attestation: Attestation = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let pubkey = &attestation.runtime_data.tee_pubkey;
    let nonce = &attestation.runtime_data.nonce;
    let additional = &attestation.tee_evidence.additional_evidence;
    // The shapes trustee kbs/src/attestation/backend.rs builds (`primary_runtime_data`,
    // `kbs_evidence_runtime_data`); the attestation service hashes their JCS text.
    let primary = json!({ "tee-pubkey": pubkey, "nonce": nonce, "additional-evidence": additional });
    let device = json!({ "tee-pubkey": pubkey, "nonce": nonce });
    let (primary_jcs, primary_digest) = canonical(&primary, hash)?;
    let (device_jcs, device_digest) = canonical(&device, hash)?;
    let devices = if additional.is_empty() {
        Value::Null
    } else {
        let map: HashMap<Tee, Value> =
            serde_json::from_str(additional).map_err(|e| format!("additional_evidence: {e}"))?;
        serde_json::to_value(&map).map_err(|e| e.to_string())?
    };
    Ok(json!({
        "hash": hash.as_ref(),
        "digest_len": hash.digest_len(),
        "runtime_data": primary,
        "canonical": primary_jcs,
        "digest": primary_digest,
        "device_runtime_data": device,
        "device_canonical": device_jcs,
        "device_digest": device_digest,
        "additional_evidence": devices,
    }))
}

fn make_challenge(nonce: &str, extra: Option<&str>) -> Outcome {
    let extra_params = match extra {
        Some(text) => serde_json::from_str(text).map_err(|e| format!("extra-params: {e}"))?,
        None => Value::String(String::new()),
    };
    let challenge = Challenge {
        nonce: nonce.to_string(),
        extra_params,
    };
    let value = serde_json::to_value(&challenge).map_err(|e| e.to_string())?;
    Ok(json!({ "value": value }))
}

fn read_stdin() -> Result<String, String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading stdin: {e}"))?;
    Ok(input)
}

fn usage(message: &str) -> ExitCode {
    eprintln!("kbs-types-peer: {message}\n{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        ["parse", kind] => {
            let input = match read_stdin() {
                Ok(input) => input,
                Err(e) => return usage(&e),
            };
            match parse(kind, &input) {
                Some(outcome) => outcome,
                None => return usage(&format!("unknown kind {kind:?}")),
            }
        }
        ["aad"] => read_stdin().and_then(|input| aad(&input)),
        ["binding", rest @ ..] if rest.len() <= 1 => {
            let hash = match rest.first() {
                Some(name) => match HashAlgorithm::from_str(name) {
                    Ok(hash) => hash,
                    Err(_) => return usage(&format!("unknown hash algorithm {name:?}")),
                },
                None => HashAlgorithm::default(),
            };
            read_stdin().and_then(|input| binding(&input, hash))
        }
        ["make", "challenge", nonce] => make_challenge(nonce, None),
        ["make", "challenge", nonce, extra] => make_challenge(nonce, Some(extra)),
        _ => return usage("bad arguments"),
    };
    let document = match outcome {
        Ok(Value::Object(fields)) => {
            let mut document = serde_json::Map::new();
            document.insert("ok".into(), Value::Bool(true));
            document.extend(fields);
            Value::Object(document)
        }
        Ok(other) => json!({ "ok": true, "value": other }),
        Err(error) => json!({ "ok": false, "error": error }),
    };
    println!("{document}");
    ExitCode::SUCCESS
}
