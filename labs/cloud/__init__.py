"""A pair on the local OpenStack's data plane, seen from the client namespace."""
