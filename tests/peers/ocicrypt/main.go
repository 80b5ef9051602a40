// Command ocicrypt is a test peer: it makes the upstream Go libraries (github.com/containers/ocicrypt and
// go.podman.io/image/v5, the code skopeo, podman and CRI-O run) encrypt and decrypt what cococtl reads and writes.
// Key providers come from OCICRYPT_KEYPROVIDER_CONFIG, loaded by ocicrypt itself (cmd and gRPC).
//
//	ocicrypt layer-encrypt --in LAYER --desc DESC.json --out ENC --key provider:attestation-agent:PARAMS
//	ocicrypt layer-decrypt --in ENC --desc DESC.json --out LAYER --key provider:attestation-agent:PARAMS
//	ocicrypt image-copy [--encryption-key K]... [--decryption-key K]... [--encrypt-layer N]... [--all] oci:SRC oci:DST
//
// Results are one JSON document on stdout; errors go to stderr with exit status 1 (2 for usage errors).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/containers/ocicrypt"
	encconfig "github.com/containers/ocicrypt/config"
	enchelpers "github.com/containers/ocicrypt/helpers"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

type usageError struct{ error }

// repeated is a repeatable string flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fail(usageError{errors.New("usage: ocicrypt layer-encrypt|layer-decrypt|image-copy [options]")})
	}
	var result any
	var err error
	switch os.Args[1] {
	case "layer-encrypt":
		result, err = layerCommand(os.Args[2:], true)
	case "layer-decrypt":
		result, err = layerCommand(os.Args[2:], false)
	case "image-copy":
		result, err = imageCopy(os.Args[2:])
	default:
		err = usageError{fmt.Errorf("unknown subcommand %q", os.Args[1])}
	}
	if err != nil {
		fail(err)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(result); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "ocicrypt peer: %v\n", err)
	var usage usageError
	if errors.As(err, &usage) {
		os.Exit(2)
	}
	os.Exit(1)
}

// layerResult describes the blob written to --out.
type layerResult struct {
	MediaType   string            `json:"mediaType,omitempty"`
	Digest      digest.Digest     `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// layerCommand runs ocicrypt.EncryptLayer or ocicrypt.DecryptLayer on one blob, as containers/image's copy
// pipeline does (copy/encryption.go), with the crypto config built the way skopeo builds it.
func layerCommand(args []string, encrypt bool) (*layerResult, error) {
	flags := flag.NewFlagSet(os.Args[1], flag.ContinueOnError)
	in := flags.String("in", "", "input blob")
	descFile := flags.String("desc", "", "descriptor JSON of the input blob (mediaType, digest, size, annotations)")
	outFile := flags.String("out", "", "output blob")
	var keys repeated
	flags.Var(&keys, "key", "provider:NAME:PARAMS (repeatable)")
	if err := flags.Parse(args); err != nil {
		return nil, usageError{err}
	}
	if *in == "" || *descFile == "" || *outFile == "" || len(keys) == 0 || flags.NArg() != 0 {
		return nil, usageError{errors.New("--in, --desc, --out and --key are required")}
	}
	var desc ocispec.Descriptor
	raw, err := os.ReadFile(*descFile)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &desc); err != nil {
		return nil, fmt.Errorf("descriptor %s: %w", *descFile, err)
	}
	source, err := os.Open(*in)
	if err != nil {
		return nil, err
	}
	defer source.Close()
	target, err := os.Create(*outFile)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	hash := sha256.New()
	sink := io.MultiWriter(target, hash)

	result := &layerResult{}
	if encrypt {
		cc, err := enchelpers.CreateCryptoConfig(keys, []string{})
		if err != nil {
			return nil, fmt.Errorf("invalid encryption keys: %w", err)
		}
		ec := encconfig.CombineCryptoConfigs([]encconfig.CryptoConfig{cc}).EncryptConfig
		reader, finalizer, err := ocicrypt.EncryptLayer(ec, source, desc)
		if err != nil {
			return nil, fmt.Errorf("EncryptLayer: %w", err)
		}
		if result.Size, err = io.Copy(sink, reader); err != nil {
			return nil, fmt.Errorf("encrypting: %w", err)
		}
		if result.Annotations, err = finalizer(); err != nil {
			return nil, fmt.Errorf("finalizing encryption: %w", err)
		}
		for k, v := range desc.Annotations {
			if _, set := result.Annotations[k]; !set {
				result.Annotations[k] = v
			}
		}
		result.MediaType = desc.MediaType + "+encrypted"
	} else {
		cc, err := enchelpers.CreateCryptoConfig([]string{}, keys)
		if err != nil {
			return nil, fmt.Errorf("invalid decryption keys: %w", err)
		}
		dc := encconfig.CombineCryptoConfigs([]encconfig.CryptoConfig{cc}).DecryptConfig
		// The digest DecryptLayer returns is never set by ocicrypt (see containers/image copy/encryption.go).
		reader, _, err := ocicrypt.DecryptLayer(dc, source, desc, false)
		if err != nil {
			return nil, fmt.Errorf("DecryptLayer: %w", err)
		}
		// The HMAC is checked when the reader reaches EOF: a mismatch is an error from io.Copy.
		if result.Size, err = io.Copy(sink, reader); err != nil {
			return nil, fmt.Errorf("decrypting: %w", err)
		}
		result.MediaType = strings.TrimSuffix(desc.MediaType, "+encrypted")
		result.Annotations = ocicrypt.FilterOutAnnotations(desc.Annotations)
	}
	if err := target.Close(); err != nil {
		return nil, err
	}
	result.Digest = digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(hash.Sum(nil)))
	return result, nil
}

type copyResult struct {
	ManifestDigest    digest.Digest `json:"manifest_digest"`
	ManifestMediaType string        `json:"manifest_media_type"`
}

// imageCopy is `skopeo --insecure-policy copy` between oci: layouts: the same copy.Options skopeo's
// cmd/skopeo/copy.go passes (crypto configs from ocicrypt's helpers, OciEncryptLayers empty = all layers),
// with containers/image's defaults otherwise (an uncompressed source layer is gzip-compressed for oci:).
func imageCopy(args []string) (*copyResult, error) {
	flags := flag.NewFlagSet("image-copy", flag.ContinueOnError)
	var encKeys, decKeys, layerArgs repeated
	flags.Var(&encKeys, "encryption-key", "provider:NAME:PARAMS (repeatable)")
	flags.Var(&decKeys, "decryption-key", "provider:NAME:PARAMS (repeatable)")
	flags.Var(&layerArgs, "encrypt-layer", "0-based layer index, negative from the end (repeatable)")
	all := flags.Bool("all", false, "copy every image of a multi-platform index")
	if err := flags.Parse(args); err != nil {
		return nil, usageError{err}
	}
	if flags.NArg() != 2 {
		return nil, usageError{errors.New("exactly two arguments expected: oci:SRC[:TAG] oci:DST[:TAG]")}
	}
	refs := make([]types.ImageReference, 2)
	for i, name := range flags.Args() {
		body, ok := strings.CutPrefix(name, "oci:")
		if !ok {
			return nil, usageError{fmt.Errorf("%q: only oci: references are supported", name)}
		}
		ref, err := layout.ParseReference(body)
		if err != nil {
			return nil, fmt.Errorf("invalid reference %q: %w", name, err)
		}
		refs[i] = ref
	}
	if len(encKeys) > 0 && len(decKeys) > 0 {
		return nil, usageError{errors.New("--encryption-key and --decryption-key cannot be specified together")}
	}
	if len(layerArgs) > 0 && len(encKeys) == 0 {
		return nil, usageError{errors.New("--encrypt-layer can only be used with --encryption-key")}
	}
	options := &copy.Options{
		ReportWriter:       os.Stderr,
		SourceCtx:          &types.SystemContext{},
		DestinationCtx:     &types.SystemContext{},
		ImageListSelection: copy.CopySystemImage,
	}
	if *all {
		options.ImageListSelection = copy.CopyAllImages
	}
	if len(encKeys) > 0 {
		layers := []int{}
		for _, text := range layerArgs {
			for _, part := range strings.Split(text, ",") {
				n, err := strconv.Atoi(part)
				if err != nil {
					return nil, usageError{fmt.Errorf("--encrypt-layer %q: %w", text, err)}
				}
				layers = append(layers, n)
			}
		}
		cc, err := enchelpers.CreateCryptoConfig(encKeys, []string{})
		if err != nil {
			return nil, fmt.Errorf("invalid encryption keys: %w", err)
		}
		options.OciEncryptLayers = &layers
		options.OciEncryptConfig = encconfig.CombineCryptoConfigs([]encconfig.CryptoConfig{cc}).EncryptConfig
	}
	if len(decKeys) > 0 {
		cc, err := enchelpers.CreateCryptoConfig([]string{}, decKeys)
		if err != nil {
			return nil, fmt.Errorf("invalid decryption keys: %w", err)
		}
		options.OciDecryptConfig = encconfig.CombineCryptoConfigs([]encconfig.CryptoConfig{cc}).DecryptConfig
	}
	policy, err := signature.NewPolicyContext(&signature.Policy{
		Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()},
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = policy.Destroy() }()
	manifestBytes, err := copy.Image(context.Background(), policy, refs[1], refs[0], options)
	if err != nil {
		return nil, err
	}
	manifestDigest, err := manifest.Digest(manifestBytes)
	if err != nil {
		return nil, err
	}
	return &copyResult{ManifestDigest: manifestDigest, ManifestMediaType: manifest.GuessMIMEType(manifestBytes)}, nil
}
