# One image for every Loupe service: the collector (`loupe serve`), the judge worker (`loupe judges`), the
# alert scheduler (`loupe alerts run`) and the dashboard (`loupe dashboard`); docker-compose.yml picks the
# command. Configuration comes only from LOUPE_* environment variables and a mounted loupe.yaml.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin loupe \
    && mkdir -p /var/lib/loupe /etc/loupe \
    && chown loupe:loupe /var/lib/loupe

WORKDIR /src
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY sdk ./sdk
COPY store ./store
COPY collector ./collector
COPY analytics ./analytics
COPY judges ./judges
COPY dashboard ./dashboard
RUN pip install . ./sdk

USER loupe
WORKDIR /var/lib/loupe
# Listen on every interface inside the container; the WAL lives on the volume mounted here.
ENV LOUPE_HOST=0.0.0.0 \
    LOUPE_WAL__DIR=/var/lib/loupe/wal
EXPOSE 4318 4317 8501
ENTRYPOINT ["loupe"]
CMD ["serve", "--config", "/etc/loupe/loupe.yaml"]
