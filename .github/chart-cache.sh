#!/usr/bin/env bash
# Fills a folder (the first argument) with the upstream Helm charts the platform installs, at the versions it
# pins, as the offline engine reads them (PLATFORM_CHART_CACHE; README "Charts offline"), with the pinned helm
# from `make helm`. Run from a checkout; the CI workflows run it where ../shared/charts does not exist.
# Chart, version and repository as in ../shared/charts/README.md: a chart missing here fails the offline
# preview with a message naming it.
set -euo pipefail
CACHE=$1
make --no-print-directory helm
helm=.tools/helm/helm
mkdir -p "$CACHE"
while read -r name version repo; do
  [ -z "$name" ] && continue
  if [ -f "$CACHE/$name-$version.tgz" ]; then continue; fi
  case "$repo" in
    oci://*) "$helm" pull "$repo/$name" --version "$version" --destination "$CACHE" ;;
    *) "$helm" pull "$name" --repo "$repo" --version "$version" --destination "$CACHE" ;;
  esac
done <<'CHARTS'
kube-prometheus-stack 88.5.3 https://prometheus-community.github.io/helm-charts
prometheus-operator-crds 31.0.1 https://prometheus-community.github.io/helm-charts
prometheus-postgres-exporter 8.2.0 https://prometheus-community.github.io/helm-charts
prometheus-redis-exporter 6.29.0 https://prometheus-community.github.io/helm-charts
prometheus-yet-another-cloudwatch-exporter 0.47.0 https://prometheus-community.github.io/helm-charts
grafana 12.11.1 https://grafana-community.github.io/helm-charts
tempo 2.2.4 https://grafana-community.github.io/helm-charts
velero 12.1.0 https://vmware-tanzu.github.io/helm-charts
aws-load-balancer-controller 3.5.0 https://aws.github.io/eks-charts
aws-for-fluent-bit 0.2.0 https://aws.github.io/eks-charts
fluent-bit 0.58.1 https://fluent.github.io/helm-charts
metrics-server 3.13.1 https://kubernetes-sigs.github.io/metrics-server
external-secrets 2.9.0 https://charts.external-secrets.io
cluster-autoscaler 9.59.0 https://kubernetes.github.io/autoscaler
karpenter 1.14.1 oci://public.ecr.aws/karpenter
karpenter-crd 1.14.1 oci://public.ecr.aws/karpenter
opentelemetry-collector 0.170.0 https://open-telemetry.github.io/opentelemetry-helm-charts
podinfo 6.14.1 https://stefanprodan.github.io/podinfo
base 1.30.3 https://istio-release.storage.googleapis.com/charts
istiod 1.30.3 https://istio-release.storage.googleapis.com/charts
gateway 1.30.3 https://istio-release.storage.googleapis.com/charts
CHARTS
