# One image recipe for every reelflow service. Targets:
#   api     uvicorn serving the FastAPI app (several workers)
#   worker  `reelflow worker`: Prefect's process worker with a bounded stop that hands back
#           running reels (set the pool with WORK_POOL=cpu|gpu|batch)
# Both carry prefect (server, services and `reelflow deploy` for the init job) and the bundled
# static ffmpeg (imageio-ffmpeg: libx264 and NVENC), so no system ffmpeg is installed.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY reelflow ./reelflow
RUN pip wheel --wheel-dir /wheels ".[scale]"

FROM python:3.11-slim AS runtime
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    REELFLOW_DATA_DIR=/data PREFECT_HOME=/data/prefect PREFECT_SERVER_ANALYTICS_ENABLED=false
# libgomp: ffmpeg's static build links OpenMP; curl: health checks.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 reelflow && mkdir -p /data && chown reelflow /data
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
WORKDIR /app
# prefect.yaml is read by `reelflow deploy` (the init job); module entrypoints, no code pull.
COPY prefect.yaml ./
USER reelflow
VOLUME ["/data"]

FROM runtime AS api
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD curl -fsS http://127.0.0.1:8000/api/v1/health || exit 1
# Forwarded headers are trusted only from FORWARDED_ALLOW_IPS (uvicorn reads it; the proxy's
# address, never "*": any client could then claim any address and scheme). WebSocket messages
# are small: 64 KiB is plenty and bounds what one frame can make the API hold.
ENV FORWARDED_ALLOW_IPS=127.0.0.1
CMD ["uvicorn", "reelflow.api.app:create_app", "--factory", "--host", "0.0.0.0", \
     "--port", "8000", "--workers", "4", "--proxy-headers", "--ws-max-size", "65536"]

FROM runtime AS worker
ENV WORK_POOL=cpu
CMD ["sh", "-c", "exec reelflow worker --pool \"$WORK_POOL\""]
