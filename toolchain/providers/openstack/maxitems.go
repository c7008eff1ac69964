package main

import (
	sdkschema "github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

// The Terraform protocol schema does not carry MaxItems for list/set *attributes* (only for nested
// blocks), so the protocol shim would expose e.g. compute ServerGroup.policies as a list where
// pulumi-openstack (built on the SDKv2 shim) flattens MaxItems=1 lists to a single value. Restore
// that from the SDKv2 schema, which is right here in-process.

func restoreMaxItemsOne(info *tfbridge.ProviderInfo, tf *sdkschema.Provider) {
	for name, r := range tf.ResourcesMap {
		ri := info.Resources[name]
		if ri.Fields == nil {
			ri.Fields = map[string]*tfbridge.SchemaInfo{}
		}
		markMaxItemsOne(r.SchemaMap(), ri.Fields)
	}
	for name, r := range tf.DataSourcesMap {
		di := info.DataSources[name]
		if di.Fields == nil {
			di.Fields = map[string]*tfbridge.SchemaInfo{}
		}
		markMaxItemsOne(r.SchemaMap(), di.Fields)
	}
	if info.Config == nil {
		info.Config = map[string]*tfbridge.SchemaInfo{}
	}
	markMaxItemsOne(tf.Schema, info.Config)
}

func markMaxItemsOne(m map[string]*sdkschema.Schema, fields map[string]*tfbridge.SchemaInfo) {
	for k, s := range m {
		if s.Type != sdkschema.TypeList && s.Type != sdkschema.TypeSet {
			continue
		}
		fi := fields[k]
		if s.MaxItems == 1 {
			if fi == nil {
				fi = &tfbridge.SchemaInfo{}
				fields[k] = fi
			}
			if fi.MaxItemsOne == nil {
				fi.MaxItemsOne = tfbridge.True()
			}
		}
		if r, ok := s.Elem.(*sdkschema.Resource); ok {
			sub := map[string]*tfbridge.SchemaInfo{}
			markMaxItemsOne(r.SchemaMap(), sub)
			if len(sub) > 0 {
				if fi == nil {
					fi = &tfbridge.SchemaInfo{}
					fields[k] = fi
				}
				if fi.Elem == nil {
					fi.Elem = &tfbridge.SchemaInfo{}
				}
				if fi.Elem.Fields == nil {
					fi.Elem.Fields = map[string]*tfbridge.SchemaInfo{}
				}
				for kk, vv := range sub {
					fi.Elem.Fields[kk] = vv
				}
			}
		}
	}
}
