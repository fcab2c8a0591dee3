# syntax=docker/dockerfile:1

# Build:  docker build --build-arg VERSION=$(git describe --tags --always) -t callrep .
# Run:    docker run -p 127.0.0.1:8080:8080 -v callrep-data:/data callrep
# Token:  docker run --rm -v callrep-data:/data callrep token --data /data --uid alice
#
# Without MONGODB_URI the container keeps the embedded store (FerretDB on
# SQLite) and the local token issuer's key in the /data volume.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
# CGO_ENABLED=0: FerretDB's SQLite backend is pure Go, so the binary is
# static and runs on an image without libc.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false \
        -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/callrep ./cmd/callrep \
 && mkdir -p /out/data

# distroless/static: CA certificates, tzdata, /tmp and a nonroot user
# (65532), no shell. The embedded store's private socket goes to /tmp.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/callrep /callrep
# An empty /data owned by nonroot: a new named volume mounted here takes
# over this ownership, so the service can write to it without root.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 8080
# No HEALTHCHECK: the image has no shell or curl to run one. Orchestrators
# should probe GET /healthz (liveness) and GET /readyz (readiness) over HTTP.
ENTRYPOINT ["/callrep"]
# Listening on all interfaces of the container is what publishing a port
# needs; the local token issuer refuses that without --allow-nonloopback.
# Publish the port on 127.0.0.1 or configure Firebase (FIREBASE_PROJECT)
# before exposing it further.
CMD ["serve", "--listen", "0.0.0.0:8080", "--data", "/data", "--allow-nonloopback"]
