"""screencodec gRPC service (serving world: no torch).

Request path, one module per step: images (bytes -> RGB, limits) -> pipeline (text mask ->
runtime.encode -> bitstream) inside admission (concurrency limit, bounded queue, deadlines), wrapped by
handlers (the RPCs), interceptors (metrics + logs per RPC) and auth; server wires them with health,
reflection and drain; config/__main__ read flags and environment; client is the CLI.
"""
