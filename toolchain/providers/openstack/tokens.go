package main

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"unicode"

	sdkschema "github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

// sdkTokens lists the resource and function tokens of the pulumi_openstack 5.5.3 Python SDK
// (regenerate with extract-sdk-tokens.py). Each Terraform resource / data source gets the SDK
// token whose normalised name matches it; the rest get a token built the same way.
//
//go:embed sdk-tokens.txt
var sdkTokens string

// Terraform name prefixes whose Pulumi module has another name.
var moduleAlias = map[string]string{
	"db": "database",
	"lb": "loadbalancer",
	"fw": "firewall",
}

// Explicit names where the normalised match cannot work (pulumi-openstack's naming quirks, kept
// as the 5.5.3 SDK has them, typos included).
var resourceTokenOverrides = map[string]string{
	"openstack_blockstorage_quotaset_v2": "openstack:blockstorage/quoteSetV2:QuoteSetV2",
	"openstack_blockstorage_quotaset_v3": "openstack:blockstorage/quoteSetV3:QuoteSetV3",
	"openstack_objectstorage_object_v1":  "openstack:objectstorage/containerObject:ContainerObject",
}

var dataSourceTokenOverrides = map[string]string{
	"openstack_dns_zone_v2":                            "openstack:dns/getDnsZone:getDnsZone",
	"openstack_sharedfilesystem_availability_zones_v2": "openstack:sharedfilesystem/getAvailbilityZones:getAvailbilityZones",
	"openstack_lb_flavor_v2":                           "openstack:loadbalancer/getLbFlavorDeprecated:getLbFlavorDeprecated",
	"openstack_loadbalancer_flavor_v2":                 "openstack:loadbalancer/getFlavorV2:getFlavorV2",
}

func normalise(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// key of a token: "<module>|<normalised member name>".
func tokenKey(tok string) string {
	parts := strings.Split(tok, ":")
	if len(parts) != 3 {
		return ""
	}
	mod := parts[1]
	if i := strings.Index(mod, "/"); i >= 0 {
		mod = mod[:i]
	}
	return mod + "|" + normalise(parts[2])
}

func loadSDKTokens() (resources, functions map[string]string) {
	resources, functions = map[string]string{}, map[string]string{}
	for _, line := range strings.Split(sdkTokens, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "resource":
			resources[tokenKey(f[1])] = f[1]
		case "function":
			functions[tokenKey(f[1])] = f[1]
		}
	}
	return resources, functions
}

func isVersion(s string) bool {
	return len(s) > 1 && s[0] == 'v' && strings.Trim(s[1:], "0123456789") == ""
}

// candidates returns token keys to try, best first, for a Terraform type name.
func candidates(tfName string, dataSource bool) []string {
	parts := strings.Split(strings.TrimPrefix(tfName, "openstack_"), "_")
	mod := parts[0]
	if a, ok := moduleAlias[mod]; ok {
		mod = a
	}
	rest := parts[1:]
	ver := ""
	if n := len(rest); n > 0 && isVersion(rest[n-1]) {
		ver, rest = rest[n-1], rest[:n-1]
	}
	all := strings.Join(parts, "")
	prefixes := []string{""}
	if dataSource {
		prefixes = []string{"get", ""}
	}
	var out []string
	for _, pre := range prefixes {
		out = append(out,
			mod+"|"+pre+strings.Join(rest, "")+ver,
			mod+"|"+pre+strings.Join(rest, ""),
			"index|"+pre+all)
	}
	return out
}

// fallbackToken builds openstack:<module>/<camelName>:<Name> for a type the SDK does not know.
func fallbackToken(tfName string, dataSource bool) string {
	parts := strings.Split(strings.TrimPrefix(tfName, "openstack_"), "_")
	mod := parts[0]
	if a, ok := moduleAlias[mod]; ok {
		mod = a
	}
	var name strings.Builder
	if dataSource {
		name.WriteString("Get")
	}
	for _, p := range parts[1:] {
		name.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	n := name.String()
	member := strings.ToLower(n[:1]) + n[1:]
	if dataSource {
		n = member
	}
	return fmt.Sprintf("openstack:%s/%s:%s", mod, member, n)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// unmappedSDKTokens is filled by assignTokens: SDK tokens no Terraform type was given (aliases of
// renamed resources, e.g. index/lbLoadbalancerV2); reported by -check-tokens.
var unmappedSDKTokens []string

func assignTokens(info *tfbridge.ProviderInfo, tf *sdkschema.Provider) error {
	resTok, fnTok := loadSDKTokens()
	used := map[string]string{}
	overrides := map[string]string{}
	for _, o := range []map[string]string{resourceTokenOverrides, dataSourceTokenOverrides} {
		for _, t := range o {
			overrides[t] = "override"
		}
	}
	pick := func(tfName string, dataSource bool, table map[string]string) string {
		ov := resourceTokenOverrides
		if dataSource {
			ov = dataSourceTokenOverrides
		}
		if t, ok := ov[tfName]; ok {
			used[t] = tfName
			return t
		}
		for _, k := range candidates(tfName, dataSource) {
			if t, ok := table[k]; ok {
				if _, taken := used[t]; !taken && overrides[t] == "" {
					used[t] = tfName
					return t
				}
			}
		}
		t := fallbackToken(tfName, dataSource)
		if _, taken := used[t]; taken || overrides[t] != "" {
			t = fallbackToken("openstack_index_"+strings.TrimPrefix(tfName, "openstack_"), dataSource)
		}
		used[t] = tfName
		return t
	}
	for _, name := range sortedKeys(tf.ResourcesMap) {
		info.Resources[name] = &tfbridge.ResourceInfo{Tok: tokens.Type(pick(name, false, resTok))}
	}
	for _, name := range sortedKeys(tf.DataSourcesMap) {
		info.DataSources[name] = &tfbridge.DataSourceInfo{Tok: tokens.ModuleMember(pick(name, true, fnTok))}
	}
	unmappedSDKTokens = nil
	for _, table := range []map[string]string{resTok, fnTok} {
		for _, t := range table {
			if _, ok := used[t]; !ok {
				unmappedSDKTokens = append(unmappedSDKTokens, t)
			}
		}
	}
	sort.Strings(unmappedSDKTokens)
	return nil
}

// listTokens prints "resource|datasource TFNAME TOKEN [fallback]" and the SDK tokens left unmapped.
func listTokens(info tfbridge.ProviderInfo) {
	resTok, fnTok := loadSDKTokens()
	known := map[string]bool{}
	for _, t := range resTok {
		known[t] = true
	}
	for _, t := range fnTok {
		known[t] = true
	}
	mark := func(t string) string {
		if known[t] {
			return ""
		}
		return " (not in the SDK)"
	}
	for _, k := range sortedKeys(info.Resources) {
		fmt.Printf("resource %s %s%s\n", k, info.Resources[k].Tok, mark(string(info.Resources[k].Tok)))
	}
	for _, k := range sortedKeys(info.DataSources) {
		fmt.Printf("datasource %s %s%s\n", k, info.DataSources[k].Tok, mark(string(info.DataSources[k].Tok)))
	}
	for _, t := range unmappedSDKTokens {
		fmt.Printf("unmapped-sdk-token %s\n", t)
	}
}
