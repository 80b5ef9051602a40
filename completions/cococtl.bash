# bash completion for cococtl, generated from its command tree by `make completions` (cococtl completion bash).
# TAB runs no Python: subcommands, options and fixed choices are listed here, file names come from bash.

_cococtl_add() {
    local w
    for w in $1; do
        [[ $w == "$_cococtl_cur"* ]] && COMPREPLY+=("$w")
    done
}

_cococtl_is_group() {
    case $1 in
    ''|'encrypt'|'decrypt'|'inspect'|'keyprovider'|'keys'|'manifest'|'kbs'|'kbs config'|'as'|'rvps'|'policy'|'initdata'|'secret'|'secret seal'|'config') return 0 ;;
    esac
    return 1
}

_cococtl_subs_of() {
    case $1 in
    '') _cococtl_subs='encrypt decrypt inspect keyprovider keys manifest kbs as rvps policy initdata secret run demo completion checksum config env' ;;
    'encrypt') _cococtl_subs='file image' ;;
    'decrypt') _cococtl_subs='file image' ;;
    'inspect') _cococtl_subs='image annotation' ;;
    'keyprovider') _cococtl_subs='serve' ;;
    'keys') _cococtl_subs='new generate export' ;;
    'manifest') _cococtl_subs='validate schema new' ;;
    'kbs') _cococtl_subs='attest get-resource set-resource delete-resource set-resource-policy get-resource-policy set-attestation-policy set-reference-value get-reference-value admin-token dev-server config' ;;
    'kbs config') _cococtl_subs='set-resource delete-resource set-resource-policy get-resource-policy set-attestation-policy set-sample-reference-value set-reference-value get-reference-value' ;;
    'as') _cococtl_subs='attest set-policy policies challenge jwks' ;;
    'rvps') _cococtl_subs='message register query' ;;
    'policy') _cococtl_subs='check' ;;
    'initdata') _cococtl_subs='new validate digest annotation decode policy-snippet' ;;
    'secret') _cococtl_subs='keygen inspect unseal seal' ;;
    'secret seal') _cococtl_subs='vault envelope' ;;
    'config') _cococtl_subs='show path' ;;
    *) _cococtl_subs='' ;;
    esac
}

_cococtl_has_sub() {
    _cococtl_subs_of "$1"
    case " $_cococtl_subs " in
    *" $2 "*) return 0 ;;
    esac
    return 1
}

_cococtl_options_of() {
    case $1 in
    '') _cococtl_opts='--json --verbose --quiet --debug --version --profile --install-completion --show-completion --help' ;;
    'encrypt') _cococtl_opts='--help' ;;
    'encrypt file') _cococtl_opts='--output --key --new-key --force --help' ;;
    'encrypt image') _cococtl_opts='--keyid --key --new-key --sample --layer --provision-to-kbs --admin-token-file --cert-file --engine --keyprovider --no-tls-verify --tls-verify --cert-dir --authfile --registry-timeout --platform --force --help' ;;
    'decrypt') _cococtl_opts='--help' ;;
    'decrypt file') _cococtl_opts='--output --key --force --help' ;;
    'decrypt image') _cococtl_opts='--key --keys-file --kbs-url --tee --cert-file --no-tls-verify --tls-verify --cert-dir --authfile --registry-timeout --platform --force --timeout --help' ;;
    'inspect') _cococtl_opts='--help' ;;
    'inspect image') _cococtl_opts='--key --keys-file --show-secrets --verify --platform --no-tls-verify --tls-verify --cert-dir --authfile --registry-timeout --help' ;;
    'inspect annotation') _cococtl_opts='--key --help' ;;
    'keyprovider') _cococtl_opts='--keys-file --kbs-url --timeout --help' ;;
    'keyprovider serve') _cococtl_opts='--listen --keys-file --kbs-url --timeout --help' ;;
    'keys') _cococtl_opts='--help' ;;
    'keys new') _cococtl_opts='--type --public-key --force --help' ;;
    'keys generate') _cococtl_opts='--repo --count --output --force --help' ;;
    'keys export') _cococtl_opts='--force --help' ;;
    'manifest') _cococtl_opts='--help' ;;
    'manifest validate') _cococtl_opts='--algo-type --help' ;;
    'manifest schema') _cococtl_opts='--help' ;;
    'manifest new') _cococtl_opts='--output --force --algo-path --data-paths --public-key-path --algo-kbs-url --algo-source-url --algo-source-type --algo-kbs-path --dataset-kbs-urls --dataset-source-urls --dataset-source-type --dataset-kbs-paths --algo-type --algo-args --algo-hash --dataset-hash --dataset-decompress --computation-id --NAME --description --help' ;;
    'kbs') _cococtl_opts='--url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs attest') _cococtl_opts='--tee --tee-key-file --tee-key-type --init-data --attester-cmd --device-evidence-cmd --output --force --url --cert-file --timeout --help' ;;
    'kbs get-resource') _cococtl_opts='--path --tee --tee-key-file --tee-key-type --init-data --attester-cmd --device-evidence-cmd --attestation-token --output --raw --force --url --cert-file --timeout --help' ;;
    'kbs set-resource') _cococtl_opts='--path --resource-file --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs delete-resource') _cococtl_opts='--path --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs set-resource-policy') _cococtl_opts='--policy-file --allow-all --deny-all --affirming --default --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs get-resource-policy') _cococtl_opts='--url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs set-attestation-policy') _cococtl_opts='--policy-file --id --type --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs set-reference-value') _cococtl_opts='--type --as-integer --as-bool --as-single-value --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs get-reference-value') _cococtl_opts='--id --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs admin-token') _cococtl_opts='--key --output --role --issuer --audience --subject --ttl --force --help' ;;
    'kbs dev-server') _cococtl_opts='--host --port --storage --admin-mode --admin-public-key --admin-issuer --admin-audience --allow-all --token-ttl --tls-cert --tls-key --help' ;;
    'kbs config') _cococtl_opts='--url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs config set-resource') _cococtl_opts='--path --resource-file --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs config delete-resource') _cococtl_opts='--path --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs config set-resource-policy') _cococtl_opts='--policy-file --allow-all --deny-all --affirming --default --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs config get-resource-policy') _cococtl_opts='--url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs config set-attestation-policy') _cococtl_opts='--policy-file --id --type --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs config set-sample-reference-value') _cococtl_opts='--type --as-integer --as-bool --as-single-value --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs config set-reference-value') _cococtl_opts='--type --as-integer --as-bool --as-single-value --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'kbs config get-reference-value') _cococtl_opts='--id --url --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'as') _cococtl_opts='--help' ;;
    'as attest') _cococtl_opts='--evidence --tee --url --policy-id --runtime-data --runtime-data-json --init-data --init-data-digest --hash-algorithm --cert-file --timeout --help' ;;
    'as set-policy') _cococtl_opts='--id --policy-file --url --cert-file --timeout --help' ;;
    'as policies') _cococtl_opts='--url --cert-file --help' ;;
    'as challenge') _cococtl_opts='--tee --tee-params --url --cert-file --timeout --help' ;;
    'as jwks') _cococtl_opts='--url --cert-file --help' ;;
    'rvps') _cococtl_opts='--help' ;;
    'rvps message') _cococtl_opts='--values --type --output --force --help' ;;
    'rvps register') _cococtl_opts='--message --url --cert-file --timeout --help' ;;
    'rvps query') _cococtl_opts='--id --url --cert-file --timeout --help' ;;
    'policy') _cococtl_opts='--help' ;;
    'policy check') _cococtl_opts='--input --data --help' ;;
    'initdata') _cococtl_opts='--help' ;;
    'initdata new') _cococtl_opts='--kbs-url --output --kbs-cert --as-url --policy --image-security-policy --image-security-policy-uri --registry-cert --credential --data --algorithm --force --help' ;;
    'initdata validate') _cococtl_opts='--help' ;;
    'initdata digest') _cococtl_opts='--help' ;;
    'initdata annotation') _cococtl_opts='--help' ;;
    'initdata decode') _cococtl_opts='--output --force --help' ;;
    'initdata policy-snippet') _cococtl_opts='--tee --kind --affirming --help' ;;
    'secret') _cococtl_opts='--help' ;;
    'secret keygen') _cococtl_opts='--kid --output-dir --force --help' ;;
    'secret inspect') _cococtl_opts='--public-key --kbs-url --cert-file --timeout --tee --tee-key-type --attester-cmd --init-data --help' ;;
    'secret unseal') _cococtl_opts='--output --kbs-url --public-key --skip-verification --cert-file --timeout --tee --tee-key-type --attester-cmd --init-data --force --help' ;;
    'secret seal') _cococtl_opts='--help' ;;
    'secret seal vault') _cococtl_opts='--resource-uri --kid --signing-key --provider --provider-settings --annotations --secret-file --output --force --provision-to-kbs --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'secret seal envelope') _cococtl_opts='--key-uri --plaintext --kid --signing-key --key --new-key --output --force --provision-to-kbs --cert-file --timeout --admin-token-file --admin-key --role --help' ;;
    'run') _cococtl_opts='--results --keys-file --kbs-url --tee --attester-cmd --algo-type --cert-file --timeout --network-timeout --retries --max-download-size --concurrency --python --reuse-venv --keep-workdir --force --algorithm --dataset --wasm-runtime --wasm-datasets --allow-unverified --no-registry-tls-verify --registry-tls-verify --help' ;;
    'demo') _cococtl_opts='--keep --dir --help' ;;
    'completion') _cococtl_opts='--help' ;;
    'checksum') _cococtl_opts='--manifest --base64 --algorithm --dataset --help' ;;
    'config') _cococtl_opts='--help' ;;
    'config show') _cococtl_opts='--help' ;;
    'config path') _cococtl_opts='--help' ;;
    'env') _cococtl_opts='--set-only --help' ;;
    *) _cococtl_opts='' ;;
    esac
}

_cococtl_value() {
    case $1 in
    '|--profile'|'encrypt image|--keyid'|'encrypt image|--layer'|'encrypt image|--provision-to-kbs'|'encrypt image|--keyprovider'|'encrypt image|--registry-timeout'|'encrypt image|--platform'|'decrypt image|--kbs-url'|'decrypt image|--kbs'|'decrypt image|--registry-timeout'|'decrypt image|--platform'|'decrypt image|--timeout'|'inspect image|--platform'|'inspect image|--registry-timeout'|'keyprovider|--kbs-url'|'keyprovider|--kbs'|'keyprovider|--timeout'|'keyprovider serve|--listen'|'keyprovider serve|--kbs-url'|'keyprovider serve|--kbs'|'keyprovider serve|--timeout'|'keys generate|--repo'|'keys generate|--count'|'manifest new|--data-paths'|'manifest new|--algo-kbs-url'|'manifest new|--algo-source-url'|'manifest new|--algo-source-type'|'manifest new|--algo-kbs-path'|'manifest new|--dataset-kbs-urls'|'manifest new|--dataset-source-urls'|'manifest new|--dataset-source-type'|'manifest new|--dataset-kbs-paths'|'manifest new|--algo-args'|'manifest new|--algo-hash'|'manifest new|--dataset-hash'|'manifest new|--dataset-decompress'|'manifest new|--dataset-type'|'manifest new|--attested-tls-bool'|'manifest new|--client-ca-file'|'manifest new|--computation-id'|'manifest new|--NAME'|'manifest new|--description'|'kbs|--url'|'kbs|--timeout'|'kbs|--role'|'kbs attest|--attester-cmd'|'kbs attest|--device-evidence-cmd'|'kbs attest|--url'|'kbs attest|--timeout'|'kbs get-resource|--path'|'kbs get-resource|--attester-cmd'|'kbs get-resource|--device-evidence-cmd'|'kbs get-resource|--url'|'kbs get-resource|--timeout'|'kbs set-resource|--path'|'kbs set-resource|--url'|'kbs set-resource|--timeout'|'kbs set-resource|--role'|'kbs delete-resource|--path'|'kbs delete-resource|--url'|'kbs delete-resource|--timeout'|'kbs delete-resource|--role'|'kbs set-resource-policy|--url'|'kbs set-resource-policy|--timeout'|'kbs set-resource-policy|--role'|'kbs get-resource-policy|--url'|'kbs get-resource-policy|--timeout'|'kbs get-resource-policy|--role'|'kbs set-attestation-policy|--id'|'kbs set-attestation-policy|--type'|'kbs set-attestation-policy|--url'|'kbs set-attestation-policy|--timeout'|'kbs set-attestation-policy|--role'|'kbs set-reference-value|--type'|'kbs set-reference-value|--url'|'kbs set-reference-value|--timeout'|'kbs set-reference-value|--role'|'kbs get-reference-value|--id'|'kbs get-reference-value|--url'|'kbs get-reference-value|--timeout'|'kbs get-reference-value|--role'|'kbs admin-token|--role'|'kbs admin-token|--issuer'|'kbs admin-token|--audience'|'kbs admin-token|--subject'|'kbs admin-token|--ttl'|'kbs dev-server|--host'|'kbs dev-server|--port'|'kbs dev-server|--admin-issuer'|'kbs dev-server|--admin-audience'|'kbs dev-server|--token-ttl'|'kbs config|--url'|'kbs config|--timeout'|'kbs config|--role'|'kbs config set-resource|--path'|'kbs config set-resource|--url'|'kbs config set-resource|--timeout'|'kbs config set-resource|--role'|'kbs config delete-resource|--path'|'kbs config delete-resource|--url'|'kbs config delete-resource|--timeout'|'kbs config delete-resource|--role'|'kbs config set-resource-policy|--url'|'kbs config set-resource-policy|--timeout'|'kbs config set-resource-policy|--role'|'kbs config get-resource-policy|--url'|'kbs config get-resource-policy|--timeout'|'kbs config get-resource-policy|--role'|'kbs config set-attestation-policy|--id'|'kbs config set-attestation-policy|--type'|'kbs config set-attestation-policy|--url'|'kbs config set-attestation-policy|--timeout'|'kbs config set-attestation-policy|--role'|'kbs config set-sample-reference-value|--type'|'kbs config set-sample-reference-value|--url'|'kbs config set-sample-reference-value|--timeout'|'kbs config set-sample-reference-value|--role'|'kbs config set-reference-value|--type'|'kbs config set-reference-value|--url'|'kbs config set-reference-value|--timeout'|'kbs config set-reference-value|--role'|'kbs config get-reference-value|--id'|'kbs config get-reference-value|--url'|'kbs config get-reference-value|--timeout'|'kbs config get-reference-value|--role'|'as attest|--url'|'as attest|--policy-id'|'as attest|--init-data-digest'|'as attest|--timeout'|'as set-policy|--id'|'as set-policy|--url'|'as set-policy|--type'|'as set-policy|--timeout'|'as policies|--url'|'as challenge|--tee-params'|'as challenge|--url'|'as challenge|--timeout'|'as jwks|--url'|'rvps register|--url'|'rvps register|--timeout'|'rvps query|--id'|'rvps query|--url'|'rvps query|--timeout'|'initdata new|--kbs-url'|'initdata new|--as-url'|'initdata new|--image-security-policy-uri'|'initdata new|--credential'|'secret keygen|--kid'|'secret inspect|--kbs-url'|'secret inspect|--timeout'|'secret inspect|--attester-cmd'|'secret unseal|--kbs-url'|'secret unseal|--timeout'|'secret unseal|--attester-cmd'|'secret seal vault|--resource-uri'|'secret seal vault|--kid'|'secret seal vault|--provider'|'secret seal vault|--provision-to-kbs'|'secret seal vault|--timeout'|'secret seal vault|--role'|'secret seal envelope|--key-uri'|'secret seal envelope|--kid'|'secret seal envelope|--provision-to-kbs'|'secret seal envelope|--timeout'|'secret seal envelope|--role'|'run|--kbs-url'|'run|--attester-cmd'|'run|--timeout'|'run|--network-timeout'|'run|--retries'|'run|--max-download-size'|'run|--concurrency'|'run|--python'|'checksum|--dataset') kind='t' ;;
    'encrypt file|--output'|'encrypt file|-o'|'encrypt file|--key'|'encrypt file|-k'|'encrypt file|--new-key'|'encrypt image|--key'|'encrypt image|-k'|'encrypt image|--new-key'|'encrypt image|--admin-token-file'|'encrypt image|--cert-file'|'encrypt image|--authfile'|'decrypt file|--output'|'decrypt file|-o'|'decrypt file|--key'|'decrypt file|-k'|'decrypt image|--key'|'decrypt image|-k'|'decrypt image|--keys-file'|'decrypt image|--cert-file'|'decrypt image|--authfile'|'inspect image|--key'|'inspect image|-k'|'inspect image|--keys-file'|'inspect image|--authfile'|'inspect annotation|--key'|'inspect annotation|-k'|'keyprovider|--keys-file'|'keyprovider serve|--keys-file'|'keys new|--public-key'|'keys new|-p'|'keys generate|--output'|'keys generate|-o'|'manifest new|--output'|'manifest new|-o'|'manifest new|--algo-path'|'manifest new|--public-key-path'|'kbs|--cert-file'|'kbs|--admin-token-file'|'kbs|--admin-key'|'kbs|--auth-private-key'|'kbs attest|--tee-key-file'|'kbs attest|--init-data'|'kbs attest|--output'|'kbs attest|-o'|'kbs attest|--cert-file'|'kbs get-resource|--tee-key-file'|'kbs get-resource|--init-data'|'kbs get-resource|--attestation-token'|'kbs get-resource|--output'|'kbs get-resource|-o'|'kbs get-resource|--cert-file'|'kbs set-resource|--resource-file'|'kbs set-resource|--cert-file'|'kbs set-resource|--admin-token-file'|'kbs set-resource|--admin-key'|'kbs set-resource|--auth-private-key'|'kbs delete-resource|--cert-file'|'kbs delete-resource|--admin-token-file'|'kbs delete-resource|--admin-key'|'kbs delete-resource|--auth-private-key'|'kbs set-resource-policy|--policy-file'|'kbs set-resource-policy|--cert-file'|'kbs set-resource-policy|--admin-token-file'|'kbs set-resource-policy|--admin-key'|'kbs set-resource-policy|--auth-private-key'|'kbs get-resource-policy|--cert-file'|'kbs get-resource-policy|--admin-token-file'|'kbs get-resource-policy|--admin-key'|'kbs get-resource-policy|--auth-private-key'|'kbs set-attestation-policy|--policy-file'|'kbs set-attestation-policy|--cert-file'|'kbs set-attestation-policy|--admin-token-file'|'kbs set-attestation-policy|--admin-key'|'kbs set-attestation-policy|--auth-private-key'|'kbs set-reference-value|--cert-file'|'kbs set-reference-value|--admin-token-file'|'kbs set-reference-value|--admin-key'|'kbs set-reference-value|--auth-private-key'|'kbs get-reference-value|--cert-file'|'kbs get-reference-value|--admin-token-file'|'kbs get-reference-value|--admin-key'|'kbs get-reference-value|--auth-private-key'|'kbs admin-token|--key'|'kbs admin-token|--output'|'kbs admin-token|-o'|'kbs dev-server|--admin-public-key'|'kbs dev-server|--tls-cert'|'kbs dev-server|--tls-key'|'kbs config|--cert-file'|'kbs config|--admin-token-file'|'kbs config|--admin-key'|'kbs config|--auth-private-key'|'kbs config set-resource|--resource-file'|'kbs config set-resource|--cert-file'|'kbs config set-resource|--admin-token-file'|'kbs config set-resource|--admin-key'|'kbs config set-resource|--auth-private-key'|'kbs config delete-resource|--cert-file'|'kbs config delete-resource|--admin-token-file'|'kbs config delete-resource|--admin-key'|'kbs config delete-resource|--auth-private-key'|'kbs config set-resource-policy|--policy-file'|'kbs config set-resource-policy|--cert-file'|'kbs config set-resource-policy|--admin-token-file'|'kbs config set-resource-policy|--admin-key'|'kbs config set-resource-policy|--auth-private-key'|'kbs config get-resource-policy|--cert-file'|'kbs config get-resource-policy|--admin-token-file'|'kbs config get-resource-policy|--admin-key'|'kbs config get-resource-policy|--auth-private-key'|'kbs config set-attestation-policy|--policy-file'|'kbs config set-attestation-policy|--cert-file'|'kbs config set-attestation-policy|--admin-token-file'|'kbs config set-attestation-policy|--admin-key'|'kbs config set-attestation-policy|--auth-private-key'|'kbs config set-sample-reference-value|--cert-file'|'kbs config set-sample-reference-value|--admin-token-file'|'kbs config set-sample-reference-value|--admin-key'|'kbs config set-sample-reference-value|--auth-private-key'|'kbs config set-reference-value|--cert-file'|'kbs config set-reference-value|--admin-token-file'|'kbs config set-reference-value|--admin-key'|'kbs config set-reference-value|--auth-private-key'|'kbs config get-reference-value|--cert-file'|'kbs config get-reference-value|--admin-token-file'|'kbs config get-reference-value|--admin-key'|'kbs config get-reference-value|--auth-private-key'|'as attest|--evidence'|'as attest|--runtime-data'|'as attest|--runtime-data-json'|'as attest|--init-data'|'as attest|--cert-file'|'as set-policy|--policy-file'|'as set-policy|--cert-file'|'as policies|--cert-file'|'as challenge|--cert-file'|'as jwks|--cert-file'|'rvps message|--values'|'rvps message|-o'|'rvps message|--output'|'rvps register|--message'|'rvps register|--cert-file'|'rvps query|--cert-file'|'policy check|--input'|'policy check|--data'|'initdata new|--output'|'initdata new|-o'|'initdata new|--kbs-cert'|'initdata new|--policy'|'initdata new|--image-security-policy'|'initdata new|--registry-cert'|'initdata new|--data'|'initdata decode|--output'|'initdata decode|-o'|'secret inspect|--public-key'|'secret inspect|--cert-file'|'secret inspect|--init-data'|'secret unseal|--output'|'secret unseal|-o'|'secret unseal|--public-key'|'secret unseal|--cert-file'|'secret unseal|--init-data'|'secret seal vault|--signing-key'|'secret seal vault|--provider-settings'|'secret seal vault|--annotations'|'secret seal vault|--secret-file'|'secret seal vault|--output'|'secret seal vault|-o'|'secret seal vault|--cert-file'|'secret seal vault|--admin-token-file'|'secret seal vault|--admin-key'|'secret seal vault|--auth-private-key'|'secret seal envelope|--plaintext'|'secret seal envelope|--signing-key'|'secret seal envelope|--key'|'secret seal envelope|--new-key'|'secret seal envelope|--output'|'secret seal envelope|-o'|'secret seal envelope|--cert-file'|'secret seal envelope|--admin-token-file'|'secret seal envelope|--admin-key'|'secret seal envelope|--auth-private-key'|'run|--keys-file'|'run|--cert-file'|'run|--algorithm'|'run|--dataset'|'checksum|--algorithm') kind='f' ;;
    'encrypt image|--engine') kind='w:native skopeo' ;;
    'encrypt image|--cert-dir'|'decrypt image|--cert-dir'|'inspect image|--cert-dir'|'kbs dev-server|--storage'|'secret keygen|--output-dir'|'secret keygen|-o'|'run|--results'|'run|-r'|'demo|--dir') kind='d' ;;
    'decrypt image|--tee'|'secret inspect|--tee'|'secret unseal|--tee'|'run|--tee') kind='w:auto sample tdx snp sgx az-snp-vtpm az-tdx-vtpm cca csv se tpm' ;;
    'keys new|--type'|'keys new|-t') kind='w:raw rsa ecdsa ed25519' ;;
    'manifest validate|--algo-type'|'manifest new|--algo-type'|'run|--algo-type') kind='w:python bin wasm docker' ;;
    'kbs attest|--tee'|'kbs get-resource|--tee') kind='w:auto sample sampledevice tdx snp sgx az-snp-vtpm az-tdx-vtpm cca csv se hygondcu tpm nvidia nvidia-dpu' ;;
    'kbs attest|--tee-key-type'|'kbs get-resource|--tee-key-type'|'secret inspect|--tee-key-type'|'secret unseal|--tee-key-type') kind='w:ec-p256 ec-p521 rsa rsa1_5 ml-kem-768' ;;
    'kbs dev-server|--admin-mode') kind='w:insecure deny bearer legacy' ;;
    'as attest|--tee') kind='w:auto az-snp-vtpm az-tdx-vtpm cca csv hygondcu nvidia sample sampledevice se sgx snp tdx tpm' ;;
    'as attest|--hash-algorithm') kind='w:sha256 sha384 sha512 sm3' ;;
    'as challenge|--tee') kind='w:az-snp-vtpm az-tdx-vtpm cca csv hygondcu nvidia sample sampledevice se sgx snp tdx tpm' ;;
    'rvps message|--type') kind='w:sample swid corim' ;;
    'initdata new|--algorithm') kind='w:sha256 sha384 sha512' ;;
    'initdata policy-snippet|--tee') kind='w:sample tdx snp' ;;
    'initdata policy-snippet|--kind') kind='w:resource attestation' ;;
    'run|--wasm-runtime') kind='w:wasmtime wasmedge' ;;
    *) kind='' ;;
    esac
}

_cococtl_argument() {
    case $1 in
    'encrypt file|0') kind='f' ;;
    'encrypt image|0') kind='f' ;;
    'encrypt image|1') kind='f' ;;
    'decrypt file|0') kind='f' ;;
    'decrypt image|0') kind='f' ;;
    'decrypt image|1') kind='f' ;;
    'inspect image|0') kind='f' ;;
    'inspect annotation|0') kind='t' ;;
    'keys new|0') kind='f' ;;
    'keys export|0') kind='f' ;;
    'keys export|1') kind='t' ;;
    'keys export|2') kind='f' ;;
    'manifest validate|0') kind='f' ;;
    'kbs set-reference-value|0') kind='t' ;;
    'kbs set-reference-value|1') kind='t' ;;
    'kbs get-reference-value|0') kind='t' ;;
    'kbs config set-sample-reference-value|0') kind='t' ;;
    'kbs config set-sample-reference-value|1') kind='t' ;;
    'kbs config set-reference-value|0') kind='t' ;;
    'kbs config set-reference-value|1') kind='t' ;;
    'kbs config get-reference-value|0') kind='t' ;;
    'policy check|0') kind='f' ;;
    'initdata validate|0') kind='f' ;;
    'initdata digest|0') kind='f' ;;
    'initdata annotation|0') kind='f' ;;
    'initdata decode|0') kind='t' ;;
    'initdata policy-snippet|0') kind='f' ;;
    'secret inspect|0') kind='t' ;;
    'secret unseal|0') kind='t' ;;
    'run|0') kind='f' ;;
    'completion|0') kind='w:bash zsh fish' ;;
    'checksum|0') kind='f' ;;
    'encrypt file|'*) kind='f' ;;
    'encrypt image|'*) kind='f' ;;
    'decrypt file|'*) kind='f' ;;
    'decrypt image|'*) kind='f' ;;
    'inspect image|'*) kind='f' ;;
    'inspect annotation|'*) kind='t' ;;
    'keys new|'*) kind='f' ;;
    'keys export|'*) kind='f' ;;
    'manifest validate|'*) kind='f' ;;
    'kbs set-reference-value|'*) kind='t' ;;
    'kbs get-reference-value|'*) kind='t' ;;
    'kbs config set-sample-reference-value|'*) kind='t' ;;
    'kbs config set-reference-value|'*) kind='t' ;;
    'kbs config get-reference-value|'*) kind='t' ;;
    'policy check|'*) kind='f' ;;
    'initdata validate|'*) kind='f' ;;
    'initdata digest|'*) kind='f' ;;
    'initdata annotation|'*) kind='f' ;;
    'initdata decode|'*) kind='t' ;;
    'initdata policy-snippet|'*) kind='f' ;;
    'secret inspect|'*) kind='t' ;;
    'secret unseal|'*) kind='t' ;;
    'run|'*) kind='f' ;;
    'completion|'*) kind='w:bash zsh fish' ;;
    'checksum|'*) kind='f' ;;
    *) kind=f ;;
    esac
}

_cococtl() {
    local IFS=$' \t\n' _cococtl_cur=${COMP_WORDS[COMP_CWORD]}
    local path="" i w opt="" expect="" glue="" npos=0 kind
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == "=" || $w == ":" ]]; then glue=1; continue; fi
        if [[ -n $expect ]]; then expect=""; glue=""; continue; fi
        if [[ -n $glue ]]; then glue=""; continue; fi
        case $w in
        --) break ;;
        -*)
            _cococtl_value "$path|$w"
            [[ -n $kind ]] && { expect=1; opt=$w; }
            continue
            ;;
        esac
        if _cococtl_is_group "$path" && _cococtl_has_sub "$path" "$w"; then
            path=${path:+$path }$w
            npos=0
        else
            npos=$((npos + 1))
        fi
    done
    [[ $_cococtl_cur == "=" ]] && _cococtl_cur=""
    if [[ -n $expect ]]; then
        _cococtl_value "$path|$opt"
    elif [[ $_cococtl_cur == -* ]]; then
        compopt +o default 2>/dev/null
        _cococtl_options_of "$path"
        _cococtl_add "$_cococtl_opts"
        return 0
    elif _cococtl_is_group "$path" && ((npos == 0)); then
        compopt +o default 2>/dev/null
        _cococtl_subs_of "$path"
        _cococtl_add "$_cococtl_subs"
        return 0
    else
        _cococtl_argument "$path|$npos"
    fi
    case $kind in
    w:*)
        compopt +o default 2>/dev/null
        _cococtl_add "${kind#w:}"
        ;;
    d) compopt +o default -o dirnames 2>/dev/null ;;
    t) compopt +o default 2>/dev/null ;;
    x)
        local IFS=$'\n'
        COMPREPLY=($(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD _COCOCTL_COMPLETE=complete_bash \
            "${COMP_WORDS[0]}" 2>/dev/null))
        ;;
    esac
    return 0
}

complete -o default -F _cococtl cococtl
