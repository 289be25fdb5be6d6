"""Delivery guardrails: one module per concern. Each module exposes `POLICIES`, the policies it contributes."""
