# orch in a container: `orch serve` by default, `orch telegram` or any orch command as the
# command. See docs/deploy.md; compose.yaml runs both sharing one state volume.
#
#   docker build -t orch .                       (BASE: any Debian 12 image; the test uses
#   docker build --build-arg BASE=my/debian:12 .  one made with debootstrap + docker import)
ARG BASE=debian:bookworm-slim

# ---- build: orch into a venv, the Claude Code CLI from npm (node is needed only here) ----
FROM ${BASE} AS build
ARG CLAUDE_CLI_VERSION=2.1.197
ARG ORCH_EXTRAS=serve,ollama,watch
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
# a proxy's CA, if the build needs one: put it in deploy/ca/NAME.crt
COPY deploy/ca/ /usr/local/share/ca-certificates/
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv nodejs npm \
 && update-ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN npm install --prefix /opt/claude --no-audit --no-fund "@anthropic-ai/claude-code@${CLAUDE_CLI_VERSION}" \
 && /opt/claude/node_modules/.bin/claude --version
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN python3 -m venv /opt/orch \
 && /opt/orch/bin/pip install "/src[${ORCH_EXTRAS}]" \
 && /opt/orch/bin/orch --help > /dev/null

# ---- runtime: Python, bubblewrap, git; no compiler, no node, no npm ----
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 bubblewrap git tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 orch \
 && useradd --create-home --uid 10001 --gid 10001 --shell /bin/bash orch \
 && mkdir -p /var/lib/orch /work \
 && chown orch:orch /var/lib/orch /work
COPY --from=build /usr/local/share/ca-certificates/ /usr/local/share/ca-certificates/
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /opt/orch /opt/orch
COPY --from=build /opt/claude /opt/claude
RUN ln -s /opt/orch/bin/orch /usr/local/bin/orch \
 && ln -s /opt/claude/node_modules/.bin/claude /usr/local/bin/claude
# the state (SQLite, logs, checkpoints) outlives the container; the workspace is a volume too
ENV ORCH_STATE_DIR=/var/lib/orch \
    ORCH_WORKDIR=/work \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/orch"]
WORKDIR /work
USER 10001:10001
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/orch/bin/python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/health', timeout=4)"]
ENTRYPOINT ["/usr/bin/tini", "--", "orch"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8765"]
