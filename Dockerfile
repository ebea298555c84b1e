# One image for web (daphne), worker and beat; docker-compose.yml runs it each way.

# Build stage: the runtime lock, hash-checked, into a virtualenv that the final stage copies alone.
FROM python:3.12-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY requirements.txt /tmp/requirements.txt
# Every pin has its hashes and a wheel: nothing unlisted gets in and nothing is compiled. The image's
# own pip installs into the venv, which so carries no pip of its own.
RUN python -m venv --without-pip /opt/venv \
    && pip --python /opt/venv/bin/python install --require-hashes --only-binary :all: -r /tmp/requirements.txt

FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . .
# The settings refuse the default secret key, and want an encryption key, with DEBUG off; these only
# let collectstatic import them.
RUN SECRET_KEY=build-time-only TRADEBOT_ENCRYPTION_KEY=build-time-only \
    python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --system --uid 10001 --no-create-home tradebot \
    && install -d -o tradebot /var/lib/tradebot-metrics

# The code, the packages and the static files stay root-owned: the app cannot rewrite itself. The
# metrics directory is the app's (docker-compose mounts a volume there, which starts with its owner).
USER tradebot
EXPOSE 8000
CMD ["daphne", "--bind", "0.0.0.0", "--port", "8000", "tradebot.asgi:application"]
