"""keepalived + Apache failover lab in network namespaces (needs root).

See lab.py for the topology, render.py for how member files are taken out of
the component's rendered user-data, and test_failover_lab.py for scenarios.
"""
