"""A mechanism driver that binds any host (local test cloud only)."""

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api
from oslo_log import log

LOG = log.getLogger(__name__)

SUPPORTED_NETWORK_TYPES = (
    constants.TYPE_FLAT,
    constants.TYPE_VLAN,
    constants.TYPE_VXLAN,
    constants.TYPE_GENEVE,
    constants.TYPE_GRE,
    constants.TYPE_LOCAL,
)


def _status_for(port):
    if port.get("admin_state_up", True):
        return constants.PORT_STATUS_ACTIVE
    return constants.PORT_STATUS_DOWN


class AnyHostMechanismDriver(api.MechanismDriver):
    """Bind every port on any host; no agent, no dataplane."""

    def initialize(self):
        LOG.info(
            "vrrp_localcloud mechanism driver: binding any host (local test cloud, no dataplane)"
        )

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        port = context.current
        for segment in context.segments_to_bind:
            if segment[api.NETWORK_TYPE] not in SUPPORTED_NETWORK_TYPES:
                continue
            context.set_binding(
                segment[api.ID],
                portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False},
                status=_status_for(port),
            )
            LOG.debug(
                "bound port %s on host %s to segment %s", port["id"], context.host, segment[api.ID]
            )
            return

    def update_port_postcommit(self, context):
        port = context.current
        original = context.original or {}
        if context.vif_type in (
            portbindings.VIF_TYPE_UNBOUND,
            portbindings.VIF_TYPE_BINDING_FAILED,
        ) or port.get("admin_state_up") == original.get("admin_state_up"):
            return
        status = _status_for(port)
        if port.get("status") != status:
            # pylint: disable=protected-access
            context._plugin.update_port_status(
                context._plugin_context, port["id"], status, context.host
            )
