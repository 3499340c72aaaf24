# The Slipway application image (API and worker) for docker-compose.yml's scale-out stack.
FROM python:3.12-slim
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/* && pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY slipway ./slipway
COPY workflows ./workflows
COPY activities ./activities
COPY api ./api
COPY worker ./worker
RUN uv sync --frozen --no-dev
ENV PATH=/app/.venv/bin:$PATH
CMD ["slipway", "api"]
