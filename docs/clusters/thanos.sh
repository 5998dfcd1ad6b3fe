#!/bin/sh
# Thanos sidecar beside each cluster's Prometheus (started with --storage.tsdb.min-block-duration=2h
# --storage.tsdb.max-block-duration=2h and external_labels.cluster, cluster-prometheus.yml), and one
# Thanos Query over all sidecars: Grafana's Prometheus data source points at the query's HTTP port.
# No deduplication label: each cluster is its own data, not a replica (--query.replica-label is for
# HA pairs of one cluster, e.g. prometheus_replica).
set -eu
case "${1:-}" in
  sidecar)
    exec thanos sidecar \
      --prometheus.url=http://localhost:9090 \
      --tsdb.path=/var/lib/prometheus/metrics2 \
      --grpc-address=0.0.0.0:10901 \
      --http-address=0.0.0.0:10902
    ;;
  query)
    exec thanos query \
      --http-address=0.0.0.0:10904 \
      --grpc-address=0.0.0.0:10903 \
      --endpoint=prometheus.prod-a.example.org:10901 \
      --endpoint=prometheus.prod-b.example.org:10901 \
      --query.replica-label=prometheus_replica
    ;;
  *)
    echo "usage: $0 sidecar|query" >&2
    exit 2
    ;;
esac
