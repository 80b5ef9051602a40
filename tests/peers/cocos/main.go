// Command cocos is cococtl's test peer for Cocos (github.com/ultravioletrs/cocos v0.8.2, pinned in go.mod).
//
// It makes Cocos' own Go code (and the Go standard library Cocos is built with) the judge of three things
// cococtl reimplements in Python. Every subcommand prints one JSON document on stdout.
//
//	cocos manifest FILE   json.Unmarshal FILE into Cocos' agent.Computation, as cocos-cli's manifestChecksum
//	                      does (cli/checksum.go:58-77 at v0.8.2); also runs cocos-cli's own `checksum --manifest`.
//	cocos infer [URI...]  net/url.Parse of each URI (or of a JSON list on stdin) and the source type inferred
//	                      from it (see inferType).
//	cocos zip DIR OUT     zip DIR exactly like Cocos' internal.ZipDirectoryToMemory (internal/zip.go:13-61),
//	                      write the bytes to OUT, print their SHA3-256; also runs cocos-cli's own
//	                      `checksum DIR`, which hashes that very function's output (internal/file.go:54-77).
//
// Cocos builds results.zip with the same function (agent/service.go:509) and the cocos-cli zips a dataset
// directory with its twin ZipDirectoryToTempFile (internal/zip.go:63-119, cli/datasets.go:48), which makes
// the same archive/zip calls, so one `zip` subcommand covers all three.
//
// url.Parse runs with the GODEBUG defaults of the Cocos module's go line (go 1.25.3): urlstrictcolons=0.

//go:debug urlstrictcolons=0
package main

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ultravioletrs/cocos/agent"
	"github.com/ultravioletrs/cocos/cli"
	"golang.org/x/crypto/sha3"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: cocos manifest FILE | infer [URI...] | zip DIR OUT")
	}
	switch args := os.Args[2:]; os.Args[1] {
	case "manifest":
		if len(args) != 1 {
			fail("usage: cocos manifest FILE")
		}
		emit(readManifest(args[0]))
	case "infer":
		uris := args
		if len(uris) == 0 {
			data, err := io.ReadAll(os.Stdin)
			if err != nil {
				fail(err.Error())
			}
			if err := json.Unmarshal(data, &uris); err != nil {
				fail("stdin must be a JSON list of strings: " + err.Error())
			}
		}
		results := make([]map[string]any, 0, len(uris))
		for _, uri := range uris {
			results = append(results, infer(uri))
		}
		emit(results)
	case "zip":
		if len(args) != 2 {
			fail("usage: cocos zip DIR OUT")
		}
		emit(zipDir(args[0], args[1]))
	default:
		fail("unknown subcommand " + os.Args[1])
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "cocos peer:", message)
	os.Exit(2)
}

func emit(value any) {
	out, err := json.Marshal(value)
	if err != nil {
		fail(err.Error())
	}
	fmt.Println(string(out))
}

// cocosCLI runs one of cocos-cli's own commands (cobra, package cli) in-process and returns what it printed.
func cocosCLI(args ...string) string {
	command := (&cli.CLI{}).NewFileHashCmd()
	var out bytes.Buffer
	command.SetOut(&out)
	command.SetErr(&out)
	command.SetArgs(args)
	if err := command.Execute(); err != nil {
		return "cobra: " + err.Error()
	}
	return strings.TrimSpace(out.String())
}

// readManifest reads a manifest the way cli/checksum.go:58-66 does: os.ReadFile, then
// json.Unmarshal into agent.Computation (agent/computations.go:24-31); no other reading exists in v0.8.2,
// whose agent receives the computation over gRPC (agent/cvms/api/grpc/client.go:223).
func readManifest(path string) map[string]any {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err.Error())
	}
	result := map[string]any{"cocos_cli": cocosCLI("--manifest", path)}
	var cmp agent.Computation
	if err := json.Unmarshal(data, &cmp); err != nil {
		result["ok"] = false
		result["error"] = err.Error()
		return result
	}
	canonical, err := json.Marshal(cmp)
	if err != nil {
		fail(err.Error())
	}
	sum := sha3.Sum256(canonical)
	result["ok"] = true
	result["computation"] = json.RawMessage(canonical)
	result["manifest_sha3"] = hex.EncodeToString(sum[:])
	return result
}

// inferType follows Cocos' inferSourceType (agent/service.go:697-734 at 747aaaa5; the module proxy serves only
// v0.8.2, which predates remote sources, so this one function is restated from the source, and Go's own
// net/url does the parsing): an empty URI or one url.Parse rejects has no type; a known scheme maps to its
// type; no scheme is an OCI reference when the URI holds a "/"; an unknown scheme is an OCI "name:tag"
// when the URI has no "://" and an opaque part.
func inferType(raw string, u *url.URL, err error) string {
	if raw == "" || err != nil {
		return ""
	}
	switch u.Scheme {
	case "s3":
		return "s3"
	case "gs":
		return "gcs"
	case "https":
		return "https"
	case "http":
		return "http"
	case "docker", "oci":
		return "oci-image"
	case "":
		if strings.Contains(raw, "/") {
			return "oci-image"
		}
		return ""
	}
	// agent/service.go:729 at 747aaaa5: an unknown scheme is a bare "name:tag" only without "://".
	if !strings.Contains(raw, "://") && u.Opaque != "" {
		return "oci-image"
	}
	return ""
}

func infer(raw string) map[string]any {
	u, err := url.Parse(raw)
	result := map[string]any{"uri": raw, "type": inferType(raw, u, err), "parse_error": nil, "url": nil}
	if err != nil {
		result["parse_error"] = err.Error()
		return result
	}
	var user any // the unescaped "name[:password]", null without userinfo
	if u.User != nil {
		name := u.User.Username()
		if password, set := u.User.Password(); set {
			name += ":" + password
		}
		user = name
	}
	result["url"] = map[string]any{
		"scheme": u.Scheme, "opaque": u.Opaque, "user": user, "host": u.Host, "path": u.Path,
		"raw_path": u.RawPath, "omit_host": u.OmitHost, "force_query": u.ForceQuery,
		"raw_query": u.RawQuery, "fragment": u.Fragment, "raw_fragment": u.RawFragment,
	}
	return result
}

// zipDir makes exactly the calls of internal.ZipDirectoryToMemory (internal/zip.go:13-61), which cannot be
// imported from outside the cocos module: filepath.Walk (:17), skip directories (:22), filepath.Rel (:26),
// zip.FileInfoHeader (:31), Name = relative path (:35), CreateHeader (:37), os.Open + io.Copy (:42-48),
// Close (:56).
func zipDir(dir, out string) map[string]any {
	buf := new(bytes.Buffer)
	zipWriter := zip.NewWriter(buf)
	var names []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		relPath, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		header, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		header.Name = relPath
		entry, err := zipWriter.CreateHeader(header)
		if err != nil {
			return err
		}
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		names = append(names, relPath)
		_, err = io.Copy(entry, file)
		return err
	})
	if err != nil {
		zipWriter.Close()
		return map[string]any{"ok": false, "error": err.Error()}
	}
	if err := zipWriter.Close(); err != nil {
		return map[string]any{"ok": false, "error": err.Error()}
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		fail(err.Error())
	}
	sum := sha3.Sum256(buf.Bytes())
	return map[string]any{
		"ok": true, "sha3_256": hex.EncodeToString(sum[:]), "size": buf.Len(), "names": names,
		"cocos_cli": cocosCLI(dir),
	}
}
