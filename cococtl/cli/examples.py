"""The Examples and Environment sections of ``--help``, one entry per command (``cococtl kbs attest``).

Kept apart from the command modules so the examples of every command can be read (and tested) in one place:
``tests/cli/test_help.py`` fails when a command has no examples, or when an entry names no command.
"""

from __future__ import annotations

_KBS = "cococtl kbs"

EXAMPLES: dict[str, tuple[str, ...]] = {
    "cococtl checksum": (
        "cococtl checksum iris.csv",
        "cococtl checksum ./dataset-dir --base64",
        "cococtl checksum -m manifest.json",
        "cococtl checksum -m manifest.json --algorithm algo.py --dataset iris.csv=./iris.csv",
    ),
    "cococtl config": ("cococtl config show", "cococtl --profile lab config show --json"),
    "cococtl config show": ("cococtl config show", "cococtl --profile lab config show"),
    "cococtl config path": ("cococtl config path",),
    "cococtl env": ("cococtl env", "cococtl --json env"),
    "cococtl": (
        "cococtl keys new dataset.key",
        "cococtl encrypt file iris.csv -o iris.csv.enc --key dataset.key",
        "cococtl --json kbs get-resource --path default/key/k1",
        "cococtl run manifest.json --results ./results",
        'eval "$(cococtl completion bash)"',
    ),
    # files and images
    "cococtl encrypt": (
        "cococtl encrypt file iris.csv -o iris.csv.enc --key dataset.key",
        "cococtl encrypt image oci:./app:latest oci:./app-enc:latest --keyid kbs:///default/key/kek --new-key kek.bin",
    ),
    "cococtl encrypt file": (
        "cococtl encrypt file iris.csv -o iris.csv.enc --key dataset.key",
        "cococtl encrypt file data.csv -o data.csv.enc --new-key data.key",
        "tar c results | cococtl encrypt file - -o - --key k > results.tar.enc",
    ),
    "cococtl encrypt image": (
        "cococtl encrypt image oci:./app:latest oci:./app-enc:latest --keyid kbs:///default/key/kek --new-key kek.bin",
        "cococtl encrypt image oci:./app oci:./app-enc --keyid kbs:///default/key/k1 --key k1.bin --layer -1 "
        "--provision-to-kbs http://127.0.0.1:8080 --admin-token-file admin.tok",
        "cococtl encrypt image docker://registry.example/app:1 docker://registry.example/app:1-enc "
        "--keyid kbs:///default/key/k1 --key k1.bin --engine skopeo",
    ),
    "cococtl decrypt": (
        "cococtl decrypt file iris.csv.enc -o iris.csv --key dataset.key",
        "cococtl decrypt image oci:./app-enc oci:./app-dec --keys-file keys.json",
    ),
    "cococtl decrypt file": (
        "cococtl decrypt file iris.csv.enc -o iris.csv --key dataset.key",
        "cococtl decrypt file - -o - --key k < results.tar.enc | tar x",
    ),
    "cococtl decrypt image": (
        "cococtl decrypt image oci:./app-enc oci:./app-dec --key kek.bin",
        "cococtl decrypt image oci:./app-enc oci:./app-dec --keys-file keys.json",
        "cococtl decrypt image oci:./app-enc oci:./app-dec --kbs-url http://127.0.0.1:8080 --tee sample",
    ),
    "cococtl inspect": (
        "cococtl inspect oci:./app-enc:latest",
        "cococtl inspect oci:./app-enc:latest --key kek.bin --verify",
        "cococtl inspect annotation eyJraWQiOiJrYnM6Ly8v...",
    ),
    "cococtl inspect image": (
        "cococtl inspect image oci:./app-enc:latest",
        "cococtl inspect image oci:./app-enc:latest --key kek.bin --verify",
        "cococtl --json inspect image docker://registry.example/app:1-enc --platform linux/amd64",
    ),
    "cococtl inspect annotation": (
        "cococtl inspect annotation eyJraWQiOiJrYnM6Ly8v...",
        "cococtl inspect annotation - --key kek.bin < annotation.txt",
    ),
    "cococtl keyprovider": (
        "cococtl keyprovider --keys-file keys.json < request.json",
        "cococtl keyprovider serve --listen 127.0.0.1:50000 --keys-file keys.json",
    ),
    "cococtl keyprovider serve": (
        "cococtl keyprovider serve --listen 127.0.0.1:50000 --keys-file keys.json",
        "cococtl keyprovider serve --kbs-url http://127.0.0.1:8080",
    ),
    # keys and manifests
    "cococtl keys": (
        "cococtl keys new image.kek",
        "cococtl keys generate --repo default --count 10 -o keys.json",
        "cococtl keys export keys.json kbs:///default/key/key_id1 image.kek",
    ),
    "cococtl keys new": ("cococtl keys new image.kek", "cococtl keys new image.kek --force"),
    "cococtl keys generate": (
        "cococtl keys generate --repo default --count 10 -o keys.json",
        "cococtl keys generate --count 2 | jq .",
    ),
    "cococtl keys export": (
        "cococtl keys export keys.json kbs:///default/key/key_id1 image.kek",
        "cococtl keys export keys.json default/key/key_id2 k2.bin --force",
    ),
    "cococtl manifest": (
        "cococtl manifest new -o manifest.yaml",
        "cococtl manifest validate manifest.yaml",
        "cococtl manifest schema > manifest.schema.json",
    ),
    "cococtl manifest validate": (
        "cococtl manifest validate manifest.json",
        "cococtl --json manifest validate manifest.yaml --algo-type python",
    ),
    "cococtl manifest schema": ("cococtl manifest schema > manifest.schema.json",),
    "cococtl manifest new": ("cococtl manifest new -o manifest.yaml", "cococtl manifest new | less"),
    "cococtl run": (
        "cococtl run manifest.json --results ./results",
        "cococtl run manifest.yaml --tee sample --kbs-url http://127.0.0.1:8080",
        "cococtl run manifest.json --keys-file keys.json",
        "cococtl --json run manifest.json --timeout 600 > report.json",
    ),
    "cococtl demo": ("cococtl demo", "cococtl demo --keep --dir ./demo"),
    "cococtl completion": (
        'eval "$(cococtl completion bash)"',
        "cococtl completion zsh > ~/.zfunc/_cococtl",
        "cococtl completion fish > ~/.config/fish/completions/cococtl.fish",
    ),
    # KBS, AS, RVPS, policies
    _KBS: (
        "cococtl kbs attest --tee sample -o token.jwt",
        "cococtl kbs --url https://kbs.example:8080 --cert-file ca.pem get-resource --path default/key/k1",
        "cococtl kbs set-resource --path default/key/k1 --resource-file k1.bin --admin-token-file admin.tok",
    ),
    f"{_KBS} attest": (
        "cococtl kbs attest --tee sample -o token.jwt",
        "cococtl kbs attest --url https://kbs.example:8080 --cert-file ca.pem --init-data init.toml",
        "cococtl --json kbs attest --tee auto --tee-key-type rsa",
    ),
    f"{_KBS} get-resource": (
        "cococtl kbs get-resource --path default/key/k1 --path kbs:///default/key/k2",
        "cococtl kbs get-resource --path default/key/k1 --raw > k1.bin",
        "cococtl kbs get-resource --path default/key/k1 --attestation-token token.jwt --tee-key-file tee.pem",
    ),
    f"{_KBS} set-resource": (
        "cococtl kbs set-resource --path default/key/k1 --resource-file k1.bin --admin-token-file admin.tok",
        "head -c 32 /dev/urandom | cococtl kbs set-resource --path default/key/k2 --resource-file -",
    ),
    f"{_KBS} delete-resource": ("cococtl kbs delete-resource --path default/key/k1 --admin-token-file admin.tok",),
    f"{_KBS} set-resource-policy": (
        "cococtl kbs set-resource-policy --allow-all",
        "cococtl kbs set-resource-policy --policy-file resource.rego --admin-token-file admin.tok",
    ),
    f"{_KBS} get-resource-policy": ("cococtl kbs get-resource-policy --admin-token-file admin.tok",),
    f"{_KBS} set-attestation-policy": (
        "cococtl kbs set-attestation-policy --policy-file appraisal.rego --id default_cpu",
    ),
    f"{_KBS} set-reference-value": (
        "cococtl kbs set-reference-value svn 1",
        "cococtl kbs set-reference-value launch_digest 0xab12 0xcd34",
        "cococtl kbs set-reference-value debug false --as-bool --as-single-value",
    ),
    f"{_KBS} get-reference-value": ("cococtl kbs get-reference-value svn",),
    f"{_KBS} admin-token": (
        "cococtl kbs admin-token --key admin.pem -o admin.tok",
        "cococtl kbs admin-token --key admin.pem -o admin.tok --ttl 30m --role admin",
    ),
    f"{_KBS} dev-server": (
        "cococtl kbs dev-server --allow-all",
        "cococtl kbs dev-server --port 18080 --admin-mode bearer --admin-public-key admin.pub",
    ),
    f"{_KBS} config": (
        "cococtl kbs config set-resource --path default/key/k1 --resource-file k1.bin",
        "cococtl kbs config set-resource-policy --allow-all",
    ),
    f"{_KBS} config set-resource": (
        "cococtl kbs config set-resource --path default/key/k1 --resource-file k1.bin --admin-token-file admin.tok",
    ),
    f"{_KBS} config delete-resource": ("cococtl kbs config delete-resource --path default/key/k1",),
    f"{_KBS} config set-resource-policy": (
        "cococtl kbs config set-resource-policy --allow-all",
        "cococtl kbs config set-resource-policy --policy-file resource.rego",
    ),
    f"{_KBS} config get-resource-policy": ("cococtl kbs config get-resource-policy",),
    f"{_KBS} config set-attestation-policy": (
        "cococtl kbs config set-attestation-policy --policy-file appraisal.rego --id default_cpu",
    ),
    f"{_KBS} config set-reference-value": ("cococtl kbs config set-reference-value svn 1",),
    f"{_KBS} config set-sample-reference-value": ("cococtl kbs config set-sample-reference-value svn 1",),
    f"{_KBS} config get-reference-value": ("cococtl kbs config get-reference-value --id svn",),
    "cococtl as": (
        "cococtl as attest --url http://127.0.0.1:8080 --tee snp --evidence evidence.json",
        "cococtl as set-policy --url grpc://127.0.0.1:50004 --id default --policy-file p.rego",
    ),
    "cococtl as attest": (
        "cococtl as attest --url http://127.0.0.1:8080 --tee snp --evidence evidence.json --policy-id default",
        "cococtl as attest --url grpc://127.0.0.1:50004 --evidence snp=evidence.json --evidence sample=s.json "
        "--runtime-data-json rt.json --hash-algorithm sha384",
        "cococtl as attest --evidence auto --tee sample",
    ),
    "cococtl as set-policy": (
        "cococtl as set-policy --url http://127.0.0.1:8080 --id default --policy-file p.rego",
        "cococtl as set-policy --url grpc://127.0.0.1:50004 --id default --policy-file p.rego",
    ),
    "cococtl as policies": ("cococtl as policies --url http://127.0.0.1:8080",),
    "cococtl as challenge": ("cococtl as challenge --url grpc://127.0.0.1:50004 --tee se --tee-params P",),
    "cococtl as jwks": ("cococtl as jwks --url grpc://127.0.0.1:50004",),
    "cococtl rvps": (
        "cococtl rvps message --type sample --values values.json -o message.json",
        "cococtl rvps register --url grpc://127.0.0.1:50003 --message message.json",
        "cococtl rvps query --url grpc://127.0.0.1:50003 --id svn",
    ),
    "cococtl rvps message": (
        "cococtl rvps message --type sample --values values.json -o message.json",
        "cococtl rvps message --type corim --values corim.cbor",
    ),
    "cococtl rvps register": (
        "cococtl rvps register --url grpc://127.0.0.1:50003 --message message.json",
        "cococtl rvps message --values values.json | cococtl rvps register --message -",
    ),
    "cococtl rvps query": ("cococtl rvps query --url grpc://127.0.0.1:50003 --id svn --id launch_digest",),
    "cococtl policy": ("cococtl policy check policy.rego --input claims.json --data data.json",),
    "cococtl policy check": (
        "cococtl policy check policy.rego",
        "cococtl policy check policy.rego --input claims.json --data data.json",
    ),
    # init-data and sealed secrets
    "cococtl initdata": (
        "cococtl initdata new --kbs-url https://kbs.example:8080 -o init.toml",
        "cococtl initdata validate init.toml",
        "cococtl initdata digest init.toml",
    ),
    "cococtl initdata new": (
        "cococtl initdata new --kbs-url https://kbs.example:8080 -o init.toml",
        "cococtl initdata new --kbs-url https://kbs.example:8080 --kbs-cert kbs-ca.pem --policy agent-policy.rego "
        "--image-security-policy policy.json -o init.toml",
    ),
    "cococtl initdata validate": (
        "cococtl initdata validate init.toml",
        "cococtl --json initdata validate - < init.toml",
    ),
    "cococtl initdata digest": ("cococtl initdata digest init.toml", "cococtl --json initdata digest init.toml"),
    "cococtl initdata annotation": ("cococtl initdata annotation init.toml",),
    "cococtl initdata decode": (
        'cococtl initdata decode "$VALUE" -o back.toml',
        "kubectl get pod p -o jsonpath='{.metadata.annotations.io\\.katacontainers\\.config\\.hypervisor\\."
        "cc_init_data}' | cococtl initdata decode -",
    ),
    "cococtl initdata policy-snippet": (
        "cococtl initdata policy-snippet init.toml > resource.rego",
        "cococtl initdata policy-snippet init.toml --tee tdx --affirming",
        "cococtl initdata policy-snippet init.toml --kind attestation",
    ),
    "cococtl secret": (
        "cococtl secret keygen --kid signer -o keys/",
        "cococtl secret seal vault --resource-uri kbs:///default/secret/db "
        "--kid kbs:///default/sealed-secret-keys/signer --signing-key keys/signer-private.json -o db.sealed",
        "cococtl secret unseal - -o db-password --kbs-url https://kbs.example:8080 < db.sealed",
    ),
    "cococtl secret keygen": ("cococtl secret keygen --kid signer -o keys/",),
    "cococtl secret seal": (
        "cococtl secret seal vault --resource-uri kbs:///default/secret/db "
        "--kid kbs:///default/sealed-secret-keys/signer --signing-key keys/signer-private.json -o db.sealed",
        "cococtl secret seal envelope --key-uri kbs:///default/key/kek --plaintext db-password --new-key kek.bin "
        "--kid kbs:///default/sealed-secret-keys/signer --signing-key keys/signer-private.json -o db.sealed",
    ),
    "cococtl secret seal vault": (
        "cococtl secret seal vault --resource-uri kbs:///default/secret/db --provider kbs "
        "--kid kbs:///default/sealed-secret-keys/signer --signing-key keys/signer-private.json -o db.sealed",
        "cococtl secret seal vault --resource-uri kbs:///default/secret/db "
        "--kid kbs:///default/sealed-secret-keys/signer --signing-key keys/signer-private.json "
        "--provision-to-kbs https://kbs.example:8080 --secret-file db-password --admin-token-file admin.tok",
    ),
    "cococtl secret seal envelope": (
        "cococtl secret seal envelope --key-uri kbs:///default/key/kek --plaintext db-password --new-key kek.bin "
        "--kid kbs:///default/sealed-secret-keys/signer --signing-key keys/signer-private.json -o db.sealed",
    ),
    "cococtl secret inspect": (
        'cococtl secret inspect "$(cat db.sealed)" --public-key keys/signer-public.json',
        "cococtl secret inspect - --kbs-url https://kbs.example:8080 < db.sealed",
    ),
    "cococtl secret unseal": (
        "cococtl secret unseal - -o db-password --kbs-url https://kbs.example:8080 < db.sealed",
        'cococtl secret unseal "$(cat db.sealed)" -o - --public-key keys/signer-public.json',
    ),
}

_EVIDENCE = (
    ("COCOCTL_TSM_ROOT", "configfs-tsm report directory for --tee tdx/snp [default: /sys/kernel/config/tsm/report]."),
    ("COCOCTL_CCEL_PATH", "Event log (CCEL) read with --tee tdx/csv."),
    ("COCOCTL_SEV_GUEST_DEVICE", "SEV-SNP guest device for --tee snp/auto [default: /dev/sev-guest]."),
    ("COCOCTL_SGX_ATTESTATION_DIR", "Gramine DCAP pseudo-files for --tee sgx [default: /dev/attestation]."),
    ("COCOCTL_TPM", "TPM for --tee tpm/az-*-vtpm: a device or swtpm:port=N[,host=H] [default: /dev/tpmrm0]."),
    ("COCOCTL_TPM_AK_HANDLE", "Attestation key for --tee tpm (or AA_TPM_AK_HANDLE) [default: 0x81010002]."),
    ("COCOCTL_AZURE_IMDS_URL", "Azure IMDS for --tee az-*-vtpm [default: http://169.254.169.254]."),
    ("COCOCTL_AZURE_HCL_DELAY", "Seconds the HCL gets to refresh its report [default: 3]."),
    ("COCOCTL_SE_UV_DEVICE", "IBM SE Ultravisor device for --tee se [default: /dev/uv]."),
    ("COCOCTL_CSV_GUEST_DEVICE", "Hygon CSV guest device for --tee csv/auto [default: /dev/csv-guest]."),
    ("COCOCTL_HYGON_KDS_URL", "Hygon KDS for --tee csv's HSK/CEK [default: https://cert.hygon.cn]."),
    ("CSV_INCLUDE_CERT_CHAIN_IN_ATTESTATION_REPORT", "true: --tee csv sends HSK/CEK from the KDS too."),
    ("AAEL_PATH", "Agent event log for --tee csv [default: /run/attestation-agent/eventlog]."),
)
_SKOPEO = (("COCOCTL_SKOPEO", "The skopeo binary for docker:// references [default: skopeo]."),)

# Environment variables read by a command that are not the [env var: ...] of one of its options.
ENVIRONMENT: dict[str, tuple[tuple[str, str], ...]] = {
    "cococtl": (
        ("COCOCTL_CONFIG", "The config file with profiles [default: $XDG_CONFIG_HOME/cococtl/config.toml]."),
        ("XDG_CONFIG_HOME", "Where the config file lives [default: ~/.config]."),
    ),
    "cococtl encrypt image": _SKOPEO,
    "cococtl decrypt image": _SKOPEO + _EVIDENCE,
    "cococtl inspect image": _SKOPEO,
    "cococtl run": (
        *_EVIDENCE,
        *_SKOPEO,
        ("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION", "Credentials and region for s3:// resources."),
        ("AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3", "An S3-compatible store for s3:// resources."),
        ("GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_CLOUD_PROJECT", "Credentials and project for gs:// resources."),
        ("STORAGE_EMULATOR_HOST", "A GCS emulator for gs:// resources (anonymous)."),
        ("DOCKER_HOST, DOCKER_CONFIG, DOCKER_CONTEXT", "The Docker engine of docker algorithms."),
    ),
    f"{_KBS} attest": _EVIDENCE,
    f"{_KBS} get-resource": _EVIDENCE,
    "cococtl as attest": _EVIDENCE,
    "cococtl secret inspect": _EVIDENCE,
    "cococtl secret unseal": _EVIDENCE,
}
