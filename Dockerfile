# oceand: one static binary on an empty base image.
#
#   docker build --build-arg REVISION=$(git rev-parse HEAD) -t oceand .
#   docker run --read-only -v oceand-state:/var/lib/oceand \
#     -e OCEAN__PORT__CLIENT_ID=... -e OCEAN__PORT__CLIENT_SECRET=... \
#     -e OCEAN__INTEGRATION__TYPE=fake -e OCEAN__INTEGRATION__IDENTIFIER=my-fake oceand
#
# The final image holds the binary and a CA bundle, nothing else: no shell,
# no libc, no package manager. It runs as UID/GID 65532 on a read-only root
# file system; everything oceand writes goes to the state volume.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build context has no .git (.dockerignore), so the revision comes in
# as an argument and is linked into buildinfo.
ARG REVISION=""
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X oceand/buildinfo.revision=${REVISION}" \
      -o /out/oceand ./cmd/oceand \
 && mkdir -p /out/state

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/oceand /oceand
# An empty state directory owned by the runtime user, so a named volume
# mounted there starts with the right owner.
COPY --from=build --chown=65532:65532 /out/state /var/lib/oceand
# In a container the health routes and WEBHOOK listen on every address of
# the container, as Ocean's do (the default, 127.0.0.1, is unreachable from
# outside it, so -p 8000:8000 would reach nothing).
ENV OCEAN__STATE_DIR=/var/lib/oceand \
    OCEAN__EVENT_LISTENER__BIND_ADDRESS=0.0.0.0 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
VOLUME ["/var/lib/oceand"]
# config.yaml and .env are read from the working directory: mount them here.
WORKDIR /etc/oceand
USER 65532:65532
# Health routes (serveHealth: true or a WEBHOOK listener), on application.port.
EXPOSE 8000
ENTRYPOINT ["/oceand"]
CMD ["run"]
