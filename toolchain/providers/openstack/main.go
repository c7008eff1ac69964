// pulumi-resource-openstack: a Pulumi resource provider bridging terraform-provider-openstack v3.4.0
// (the upstream that pulumi-openstack 5.5.3 wraps) with pulumi-terraform-bridge, built from modules
// that the Go module proxy serves.
//
// Why not the sdk-v2 shim that pulumi-openstack itself uses: the bridge's pkg/tfshim/sdk-v2 only
// compiles against Pulumi's fork of terraform-plugin-sdk (github.com/pulumi/terraform-plugin-sdk/v2,
// not served here). Instead the upstream SDKv2 provider is served in-process over the Terraform plugin
// protocol (tfprotov5 -> tfprotov6 via terraform-plugin-mux) and bridged with the bridge's protocol
// shim (pkg/pf/proto + pkg/pf/tfbridge), the way Pulumi's "terraform-provider" (any-TF-provider)
// bridge does. What the protocol does not carry (MaxItems of list attributes, Pulumi token names) is
// restored from the SDKv2 schema (maxitems.go) and from the 5.5.3 Python SDK's tokens (tokens.go).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-mux/tf5to6server"
	sdkschema "github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/spf13/afero"
	"github.com/terraform-provider-openstack/terraform-provider-openstack/v3/openstack"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/proto"
	pfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
)

// version is what GetPluginInfo reports; set with -ldflags "-X main.version=5.5.3".
var version = "5.5.3"

func main() {
	ctx := context.Background()
	info, err := providerInfo(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-openstack: %v\n", err)
		os.Exit(1)
	}
	if len(os.Args) > 1 && os.Args[1] == "-list-tokens" {
		listTokens(info)
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "-dump-schema" {
		b, err := schemaJSON(ctx, info)
		if err != nil {
			fmt.Fprintf(os.Stderr, "pulumi-resource-openstack: %v\n", err)
			os.Exit(1)
		}
		os.Stdout.Write(b)
		return
	}
	pfbridge.Main(ctx, "openstack", info, pfbridge.ProviderMetadata{
		XGetSchema: func(ctx context.Context, _ plugin.GetSchemaRequest) ([]byte, error) {
			return schemaJSON(ctx, info)
		},
	})
}

// newServer serves the upstream SDKv2 provider over tfprotov6, in-process.
func newServer(ctx context.Context, p *sdkschema.Provider) (*proto.Provider, error) {
	s6, err := tf5to6server.UpgradeServer(ctx, func() tfprotov5.ProviderServer {
		return sdkschema.NewGRPCProviderServer(p)
	})
	if err != nil {
		return nil, err
	}
	return proto.New(ctx, s6).(*proto.Provider), nil
}

func providerInfo(ctx context.Context) (tfbridge.ProviderInfo, error) {
	tf := openstack.Provider()
	shim, err := newServer(ctx, tf)
	if err != nil {
		return tfbridge.ProviderInfo{}, err
	}
	env := func(vars ...string) *tfbridge.SchemaInfo {
		return &tfbridge.SchemaInfo{Default: &tfbridge.DefaultInfo{EnvVars: vars}}
	}
	info := tfbridge.ProviderInfo{
		P:            shim,
		Name:         "openstack",
		Version:      version,
		Description:  "A Pulumi package for creating and managing OpenStack cloud resources.",
		Keywords:     []string{"pulumi", "openstack"},
		Homepage:     "https://pulumi.io",
		License:      "Apache-2.0",
		GitHubOrg:    "terraform-provider-openstack",
		Repository:   "https://github.com/pulumi/pulumi-openstack",
		MetadataInfo: &tfbridge.MetadataInfo{Path: "", Data: tfbridge.ProviderMetadata(nil)},
		// Same environment fallbacks as pulumi-openstack 5.5.3 (its Python SDK reads the same ones).
		Config: map[string]*tfbridge.SchemaInfo{
			"region":        env("OS_REGION_NAME"),
			"insecure":      env("OS_INSECURE"),
			"endpoint_type": env("OS_ENDPOINT_TYPE"),
			"swauth":        env("OS_SWAUTH"),
			"cloud":         env("OS_CLOUD"),
			"delayed_auth":  env("OS_DELAYED_AUTH"),
			"allow_reauth":  env("OS_ALLOW_REAUTH"),
		},
		Resources:   map[string]*tfbridge.ResourceInfo{},
		DataSources: map[string]*tfbridge.DataSourceInfo{},
	}
	if err := assignTokens(&info, tf); err != nil {
		return info, err
	}
	restoreMaxItemsOne(&info, tf)
	applyOverrides(&info, tf)
	return info, nil
}

// schemaJSON generates the Pulumi package schema from the ProviderInfo (in memory, no docs).
func schemaJSON(ctx context.Context, info tfbridge.ProviderInfo) ([]byte, error) {
	g, err := tfgen.NewGenerator(tfgen.GeneratorOptions{
		Package:       info.Name,
		Version:       info.Version,
		Language:      tfgen.Schema,
		ProviderInfo:  info,
		Root:          afero.NewMemMapFs(),
		Sink:          diag.DefaultSink(io.Discard, io.Discard, diag.FormatOptions{Color: colors.Never}),
		XInMemoryDocs: true,
		SkipExamples:  true,
		SkipDocs:      true,
	})
	if err != nil {
		return nil, err
	}
	s, err := g.Generate()
	if err != nil {
		return nil, err
	}
	s.PackageSpec.Version = info.Version
	return json.Marshal(s.PackageSpec)
}
