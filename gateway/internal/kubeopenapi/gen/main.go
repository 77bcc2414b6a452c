// Command gen writes the gateway's OpenAPI data (../data) from kube-apiserver's
// published OpenAPI v3 documents: for each group/version the gateway can serve,
// the document's component schemas, and the query and path parameters its
// operations declare (by name). The gateway builds its /openapi/v3 documents from
// them at run time, for the kinds actually served.
//
// Reproduce the committed data from a checkout of kubernetes/kubernetes (its
// api/openapi-spec/v3 folder) or of kubernetes-sigs/kubectl-validate (its
// pkg/openapiclient/builtins/<minor> folder, the same documents per release):
//
//	go run ./gateway/internal/kubeopenapi/gen -src DIR -release 1.35
//
// Without -src it verifies the committed data instead: every file parses, is in
// canonical form (what this command writes) and matches the checksum in
// data/SOURCE.json.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// groupVersions are the group/versions whose schemas are kept: those of every
// kind podwarden serves or is planned to serve. A new kind in one of them needs
// no new data; a new group/version is added here and the data regenerated.
var groupVersions = []string{
	"v1",
	"apps/v1",
	"autoscaling/v1",
	"autoscaling/v2",
	"batch/v1",
	"coordination.k8s.io/v1",
	"events.k8s.io/v1",
	"policy/v1",
	"storage.k8s.io/v1",
}

// source records where the data came from and its checksums.
type source struct {
	Release string            `json:"release"`
	Origin  string            `json:"origin"`
	SHA256  map[string]string `json:"sha256"`
}

func main() {
	src := flag.String("src", "", "folder of upstream OpenAPI v3 documents (api/v1.json, apis/apps/v1.json, ... or api__v1_openapi.json, ...)")
	release := flag.String("release", "", "Kubernetes release of the documents in -src (recorded in data/SOURCE.json)")
	origin := flag.String("origin", "", "where -src came from (recorded in data/SOURCE.json)")
	out := flag.String("out", "gateway/internal/kubeopenapi/data", "data folder")
	flag.Parse()
	var err error
	if *src == "" {
		err = verify(*out)
	} else {
		err = generate(*src, *out, *release, *origin)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeopenapi gen:", err)
		os.Exit(1)
	}
}

// fileName is the data file of a group/version: kube-apiserver's own naming
// (api__v1, apis__apps__v1).
func fileName(gv string) string {
	if gv == "v1" {
		return "api__v1.json"
	}
	return "apis__" + strings.ReplaceAll(gv, "/", "__") + ".json"
}

// upstreamDoc finds gv's document in src under either layout.
func upstreamDoc(src, gv string) ([]byte, error) {
	var candidates []string
	if gv == "v1" {
		candidates = []string{"api/v1.json", "api__v1_openapi.json"}
	} else {
		candidates = []string{"apis/" + gv + ".json", "apis__" + strings.ReplaceAll(gv, "/", "__") + "_openapi.json"}
	}
	for _, c := range candidates {
		b, err := os.ReadFile(filepath.Join(src, c))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no document for %s in %s (tried %v)", gv, src, candidates)
}

type document struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

type parameter struct {
	Name string `json:"name"`
	In   string `json:"in"`
}

func generate(src, out, release, origin string) error {
	if release == "" {
		return errors.New("-release is required with -src")
	}
	files := map[string][]byte{}
	params := map[string]json.RawMessage{}
	for _, gv := range groupVersions {
		raw, err := upstreamDoc(src, gv)
		if err != nil {
			return err
		}
		var doc document
		if err := json.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("parse %s: %w", gv, err)
		}
		if len(doc.Components.Schemas) == 0 {
			return fmt.Errorf("%s: no component schemas", gv)
		}
		b, err := canonical(map[string]any{"schemas": doc.Components.Schemas})
		if err != nil {
			return err
		}
		files[fileName(gv)] = b
		collectParameters(doc, params)
	}
	b, err := canonical(params)
	if err != nil {
		return err
	}
	files["parameters.json"] = b
	s := source{Release: release, Origin: origin, SHA256: map[string]string{}}
	for name, b := range files {
		s.SHA256[name] = checksum(b)
	}
	sb, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	files["SOURCE.json"] = append(sb, '\n')
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// collectParameters keeps the first definition of every query parameter (and of
// the namespace path parameter), visiting paths and methods in sorted order.
func collectParameters(doc document, params map[string]json.RawMessage) {
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		item := doc.Paths[p]
		keys := make([]string, 0, len(item))
		for k := range item {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			var list []json.RawMessage
			if k == "parameters" {
				_ = json.Unmarshal(item[k], &list)
			} else {
				var op struct {
					Parameters []json.RawMessage `json:"parameters"`
				}
				_ = json.Unmarshal(item[k], &op)
				list = op.Parameters
			}
			for _, raw := range list {
				var prm parameter
				if json.Unmarshal(raw, &prm) != nil || prm.Name == "" {
					continue
				}
				if prm.In != "query" && prm.Name != "namespace" {
					continue
				}
				if _, seen := params[prm.Name]; !seen {
					params[prm.Name] = raw
				}
			}
		}
	}
}

// canonical is v as compact JSON with sorted keys and a final newline.
func canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func checksum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func verify(out string) error {
	sb, err := os.ReadFile(filepath.Join(out, "SOURCE.json"))
	if err != nil {
		return err
	}
	var s source
	if err := json.Unmarshal(sb, &s); err != nil {
		return fmt.Errorf("SOURCE.json: %w", err)
	}
	want := []string{"parameters.json"}
	for _, gv := range groupVersions {
		want = append(want, fileName(gv))
	}
	for _, name := range want {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			return err
		}
		c, err := canonical(json.RawMessage(b))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !bytes.Equal(b, c) {
			return fmt.Errorf("%s is not in canonical form: regenerate it with -src", name)
		}
		if got := checksum(b); got != s.SHA256[name] {
			return fmt.Errorf("%s: checksum %s, SOURCE.json records %q: regenerate it with -src", name, got, s.SHA256[name])
		}
	}
	return nil
}
