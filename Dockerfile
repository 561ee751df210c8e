# The AEGIS images, built from the repository root with either tool (podman
# and buildah read a Dockerfile when there is no Containerfile):
#
#   podman build --target worker   -t ghcr.io/aegis/aegis-worker:0.1.0   .
#   podman build --target operator -t ghcr.io/aegis/aegis-operator:0.1.0 .
#   (docker build takes the same arguments)
#
# Two images from one build: the engine pod runs `aegis-worker` (its
# containers pass only args, so the entrypoint is the worker), the operator's
# Deployment runs `aegis-operator`. Each image carries only its own binary, so
# a compromised engine holds no controller and the operator no trading code.
#
# The binaries are statically linked (glibc with +crt-static; TLS is rustls,
# no OpenSSL), so the final stages are FROM scratch with nothing but the
# binary and the CA certificates. Both run as UID/GID 65532 and write nothing
# outside their mounted volumes (/dev/shm for the rings, the ledger and report
# volumes), so readOnlyRootFilesystem holds.
#
# The `build` stage's output is /out. To package binaries built on the host
# instead (as the end-to-end test does), replace the stage with a directory:
#   podman build --build-context build=<dir holding out/> --target worker .

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-feature=+crt-static" \
    CARGO_TARGET_DIR=/src/target/image
RUN cargo build --profile image --locked --target x86_64-unknown-linux-gnu \
        -p aegis-worker -p aegis-operator \
 && mkdir -p /out \
 && cp target/image/x86_64-unknown-linux-gnu/image/aegis-worker \
       target/image/x86_64-unknown-linux-gnu/image/aegis-operator /out/ \
 && cp /etc/ssl/certs/ca-certificates.crt /out/

FROM scratch AS operator
COPY --from=build /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/aegis-operator /usr/local/bin/aegis-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/aegis-operator"]
CMD ["run"]

FROM scratch AS worker
COPY --from=build /out/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/aegis-worker /usr/local/bin/aegis-worker
USER 65532:65532
EXPOSE 9101 9102 9103
ENTRYPOINT ["/usr/local/bin/aegis-worker"]
CMD ["--help"]
