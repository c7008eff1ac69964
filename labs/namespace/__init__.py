"""The namespace lab: keepalived and Apache members in network namespaces."""
