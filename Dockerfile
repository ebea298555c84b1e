# One image for web (daphne), worker and beat; docker-compose.yml runs it each way.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies before the code, so a code change does not reinstall them. All are binary wheels.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# The settings refuse the default secret key with DEBUG off; this one only lets collectstatic import them.
RUN SECRET_KEY=build-time-only python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --system --uid 10001 --no-create-home tradebot

# The code and static files stay root-owned: the app cannot rewrite itself.
USER tradebot
EXPOSE 8000
CMD ["daphne", "--bind", "0.0.0.0", "--port", "8000", "tradebot.asgi:application"]
