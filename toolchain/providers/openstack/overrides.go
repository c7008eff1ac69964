package main

import (
	sdkschema "github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

// Property renames pulumi-openstack 5.5.3 makes on top of the bridge's automatic naming.
func applyOverrides(info *tfbridge.ProviderInfo, tf *sdkschema.Provider) {
	field := func(res, tf string) *tfbridge.SchemaInfo {
		ri, ok := info.Resources[res]
		if !ok {
			return &tfbridge.SchemaInfo{}
		}
		if ri.Fields == nil {
			ri.Fields = map[string]*tfbridge.SchemaInfo{}
		}
		if ri.Fields[tf] == nil {
			ri.Fields[tf] = &tfbridge.SchemaInfo{}
		}
		return ri.Fields[tf]
	}
	field("openstack_networking_subnet_v2", "allocation_pool").Name = "allocationPools"
	field("openstack_orchestration_stack_v1", "outputs").Name = "StackOutputs" // sic, as in 5.5.3

	// SDKv2 resource timeouts travel over the plugin protocol as a `timeouts` block; the SDKv2 shim
	// pulumi-openstack uses does not expose it (Pulumi has customTimeouts instead), so neither do we.
	for name, r := range tf.ResourcesMap {
		if r.Timeouts != nil {
			field(name, "timeouts").Omit = true
		}
	}
}
