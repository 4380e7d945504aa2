"""Samplers, one module per metric family, registered by family name.

A new family is a new module here with a `@register`ed `Sampler` subclass, imported below; its
metrics then appear in `--metrics` choices and must be listed in docs/metrics.md (a test checks).
The `agent` family (the producer's own health) is not selectable: the service adds it to every sample.
"""

from producer.samplers import cpu, disk, memory, network, system
from producer.samplers.agent import AgentSampler, AgentStatus
from producer.samplers.base import MetricSpec, Options, Sampler, create, families, register, registered_specs


def metric_specs() -> tuple[MetricSpec, ...]:
    """Every metric the producer can emit: the registered families' and the agent's own."""
    return registered_specs() + AgentSampler.metrics


__all__ = [
    "AgentSampler",
    "AgentStatus",
    "MetricSpec",
    "Options",
    "Sampler",
    "cpu",
    "create",
    "disk",
    "families",
    "memory",
    "metric_specs",
    "network",
    "register",
    "registered_specs",
    "system",
]
