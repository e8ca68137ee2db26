# aurio: one image for the web server and the worker.
# Build: docker build -t aurio .   (no Docker engine runs on our dev machines;
# see "Deployment" in docs/operations.md for what was and wasn't run.)
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AURIO_DATA_DIR=/data \
    BIND=0.0.0.0:8000 \
    MALLOC_ARENA_MAX=2

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files are collected at build time and served by whitenoise.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin aurio \
 && mkdir -p /data && chown aurio:aurio /data

USER aurio
VOLUME ["/data"]
# gunicorn's port, for nginx on the stack's network (deploy/nginx/aurio.conf);
# never publish it directly: nginx bounds slow headers, gunicorn can't.
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "aurio.wsgi"]
