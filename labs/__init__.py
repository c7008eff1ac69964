"""The rigs the tests and benchmarks run the product in (not shipped, not tests themselves):

- labs.namespace: real keepalived and Apache in network namespaces, members rendered
  through the component under Pulumi mocks (labs.namespace.render);
- labs.vm: the Debian 12 images (build-image) the local cloud serves from Glance;
- labs.cloud: helpers for a pair on the local OpenStack's data plane (SSH to members,
  probes from the client namespace);
- labs.pulumi_harness: Pulumi mocks that record every resource and invoke, for rendering
  and checking the component without an engine.
"""
