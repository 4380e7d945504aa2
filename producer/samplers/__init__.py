"""Samplers, one module per metric family, registered by family name.

A new family is a new module here with a `@register`ed `Sampler` subclass, imported below; its
metrics then appear in `--metrics` choices and must be listed in docs/metrics.md (a test checks).
"""

from producer.samplers import cpu, memory
from producer.samplers.base import MetricSpec, Sampler, create, families, metric_specs, register

__all__ = ["MetricSpec", "Sampler", "cpu", "create", "families", "memory", "metric_specs", "register"]
