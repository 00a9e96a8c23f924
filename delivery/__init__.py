"""Delivery: release records, promotion rules, and the rendered Kubernetes manifests."""
