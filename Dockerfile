# syntax=docker/dockerfile:1
#
# One image, three services: /usr/local/bin/{webhook,indexer,api}, plus /usr/local/bin/mirror (for
# an air-gapped site, inside the fence), /usr/local/bin/package-registry-ctl (the status in a
# terminal, e.g. through kubectl exec) and /usr/local/bin/healthcheck. The list is
# deploy/image/binaries.txt, which the daemonless build (deploy/image, no Docker needed) reads too.
# Needs BuildKit (the --mount cache options): Docker 23+ uses it by default; older engines need
# DOCKER_BUILDKIT=1.
#
# Why one image and not one per binary: the three commands are built from one module at one commit
# and share nearly all their code, so one image means one build, one tag to scan, sign and promote,
# and no way to run a webhook and an indexer from different commits by accident. The cost is that
# each container carries two binaries it does not run: a few tens of MB in a layer that every
# service shares, so a node pulls it once. The deployment picks the binary with its command
# (`command: [/usr/local/bin/indexer]` in docker-compose.yml, `command` in Kubernetes); without
# one the image runs the API.
#
# Runtime base: distroless static, nonroot (uid/gid 65532). It has CA certificates and tzdata and
# nothing else: no shell, no package manager, no curl. Container health checks therefore use
# `healthcheck` (deploy/healthcheck), a static probe that GETs one URL and exits 0 on a 2xx.
#
# Configuration is environment only: every flag -foo-bar is also EPR_FOO_BAR. Nothing is set here
# because each binary has its own defaults; in a container set EPR_ADDRESS to ":PORT", since the
# defaults (localhost:PORT) are unreachable from outside the container.

ARG GO_VERSION=1.26
# Stamped into every binary (-version, /, epr_service_info) and the version label.
ARG VERSION=dev

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
# The version every binary reports (-version, /, epr_service_info) and the image's version label,
# e.g. `docker build --build-arg VERSION=$(git describe --tags --always --dirty) .`.
ARG VERSION
WORKDIR /src
# Modules first, so that source edits do not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath \
        -ldflags="-s -w -X github.com/oci-epr/package-registry/internal/version.Stamp=${VERSION}" \
        -o /out/bin/ $(grep -v '^#' deploy/image/binaries.txt)
# Data directories, copied below with the runtime user as owner. A named volume mounted on one of
# them starts with this ownership, so the non-root processes can write their bbolt files and blob
# caches without a chown step.
RUN mkdir -p /out/data/indexer /out/data/api

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION
LABEL org.opencontainers.image.title="package-registry" \
      org.opencontainers.image.description="Elastic Package Registry API served from packages stored as OCI artifacts: webhook, indexer, api, mirror, package-registry-ctl and healthcheck." \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/bin/ /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data/ /var/lib/package-registry/
USER 65532:65532
WORKDIR /var/lib/package-registry
# api, webhook, indexer (/health only); /metrics is off unless EPR_METRICS_ADDRESS is set.
EXPOSE 8080 8081 8082
CMD ["/usr/local/bin/api"]
