# The consumer image of docker-compose.yaml: a build stage makes the native engine's wheel (native/,
# Rust + PyO3, built by maturin, which pip fetches from PyPI as the build backend), and the final
# slim image installs that wheel and the package. Rebuild after changing the code:
#   docker compose build consumer
FROM rust:1-slim-bookworm AS native
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip python3-venv \
    && rm -rf /var/lib/apt/lists/*
COPY native /build/native
RUN python3 -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --quiet --upgrade pip \
    && /opt/build/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels /build/native

# Same Debian release as the build stage (bookworm), so the wheel's glibc matches.
FROM python:3.11-slim-bookworm
COPY --from=native /wheels /wheels
COPY . /src
RUN pip install --no-cache-dir --quiet /wheels/*.whl /src && rm -rf /wheels
WORKDIR /src
CMD ["addlink", "run", "--config", "/config/addlink.yaml"]
