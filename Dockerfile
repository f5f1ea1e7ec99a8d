# The image of the web and worker services (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

RUN useradd --create-home --uid 1000 followup
WORKDIR /app

COPY . /app
# Static files are collected into the image (whitenoise serves them); the key is a
# throwaway that only lets settings load, never used at run time.
RUN pip install . \
    && rm -rf build *.egg-info \
    && mkdir -p var \
    && SECRET_KEY=build-only-dummy-key-0123456789abcdefghijklmnopqrstuvwxyz \
       python manage.py collectstatic --noinput --verbosity 0 \
    && chown -R followup:followup var

USER followup
EXPOSE 8000
CMD ["scripts/web.sh"]
