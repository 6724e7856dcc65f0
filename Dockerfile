# recd in a container: a multi-stage build, a slim runtime image, a non-root user.
#   docker build -t recd .
#   docker run --rm -v recd-data:/data recd keys create --data-dir /data --scope admin
#   docker run -p 7878:7878 -v recd-data:/data recd
# The image runs `recd serve` on /data with the configuration in /etc/recd/recd.toml (every
# key can also be set with RECD__SECTION__KEY environment variables, e.g. RECD__SERVE__LISTEN).
# /models and /lake are where deploy/compose.yaml mounts its model and lake volumes (owned by
# recd, so that a fresh named volume is writable).

FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ make pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p recd \
 && strip target/release/recd

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin recd \
 && mkdir -p /data /etc/recd /models /lake \
 && chown recd:recd /data /models /lake
COPY --from=build /src/target/release/recd /usr/local/bin/recd
COPY deploy/docker/recd.toml /etc/recd/recd.toml
USER recd
ENV RECD_CONFIG=/etc/recd/recd.toml
VOLUME ["/data"]
EXPOSE 7878
ENTRYPOINT ["recd"]
CMD ["serve", "--data-dir", "/data", "--log-format", "json"]
