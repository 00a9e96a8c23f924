"""A stand-in for TF Serving, for machines with neither its binary nor Docker.

It keeps upstream's contract (routes, status codes, gRPC codes, metric names, batching limits),
taken from upstream's source; tests run the same contract corpus against real TF Serving where
Docker exists. Real serving code never imports this package: it starts it as a process.
"""
