// vrrp-python-codegen: the code-generation half of vrrp-pair's Python language host.
//
// The host (langhost.py) is Python; Pulumi's Python SDK generator is Go (pkg/v3/codegen/python).
// This helper is built against pkg/v3 (by toolchain/install-language-host, from the Go module cache)
// and called by the host's GeneratePackage RPC:
//
//	vrrp-python-codegen generate-package < request.json > response.json
//
// request:  {"directory": DIR, "schema": "<schema JSON>", "loaderTarget": "127.0.0.1:PORT",
//            "extraFiles": {"path": "<base64>"}}
// response: {"diagnostics": [{"severity": 1|2, "summary": "...", "detail": "..."}]}
// Errors go to stderr with exit status 1.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	python "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

type request struct {
	Directory    string            `json:"directory"`
	Schema       string            `json:"schema"`
	LoaderTarget string            `json:"loaderTarget"`
	ExtraFiles   map[string][]byte `json:"extraFiles"`
}

type diagnostic struct {
	Severity int    `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
}

type response struct {
	Diagnostics []diagnostic `json:"diagnostics"`
}

func main() {
	if len(os.Args) != 2 || os.Args[1] != "generate-package" {
		fmt.Fprintln(os.Stderr, "usage: vrrp-python-codegen generate-package < request.json")
		os.Exit(2)
	}
	if err := generatePackage(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func generatePackage() error {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return fmt.Errorf("reading request: %w", err)
	}
	if req.LoaderTarget == "" {
		return fmt.Errorf("request has no loaderTarget")
	}
	client, err := schema.NewLoaderClient(req.LoaderTarget)
	if err != nil {
		return err
	}
	defer client.Close()
	loader := schema.NewCachedLoader(client)

	var spec schema.PackageSpec
	if err := json.Unmarshal([]byte(req.Schema), &spec); err != nil {
		return fmt.Errorf("parsing schema: %w", err)
	}
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return err
	}
	out := response{Diagnostics: []diagnostic{}}
	for _, d := range diags {
		out.Diagnostics = append(out.Diagnostics, diagnostic{
			Severity: map[hcl.DiagnosticSeverity]int{hcl.DiagError: 1, hcl.DiagWarning: 2}[d.Severity],
			Summary:  d.Summary,
			Detail:   d.Detail,
		})
	}
	if !diags.HasErrors() {
		files, err := python.GeneratePackage("pulumi-language-python", pkg, req.ExtraFiles, loader)
		if err != nil {
			return err
		}
		for name, data := range files {
			path := filepath.Join(req.Directory, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return err
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}
