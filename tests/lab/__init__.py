"""Failover scenarios in the namespace lab (labs/namespace; needs root)."""
