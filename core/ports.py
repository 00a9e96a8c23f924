"""TF Serving's ports inside a container: gRPC and REST.

The rendered Deployment, Service and probes, the server flags and the clients all use these,
so the numbers appear once (the Jinja templates get them as variables).
"""

GRPC_PORT = 8500
REST_PORT = 8501
