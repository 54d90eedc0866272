# The application image: daphne by default; the same image runs the
# notification worker and the one-shot migrations (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=chatsite.settings.production

WORKDIR /app

RUN groupadd --system app \
    && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app

# Dependencies first: this layer is rebuilt only when requirements change.
# WITH_S3=1 adds django-storages and boto3 for ATTACHMENT_STORAGE=s3.
ARG WITH_S3=0
COPY requirements.txt requirements-s3.txt ./
RUN pip install -r requirements.txt \
    && if [ "$WITH_S3" = 1 ]; then pip install -r requirements-s3.txt; fi

COPY . .

# Static files are collected into the image and served by whitenoise. The
# production settings insist on a SECRET_KEY: this one exists only for this
# build step and is not in the image's environment. var/ is where the
# settings fall back to SQLite when DATABASE_URL is unset, and var/media
# holds attachments (a volume in docker-compose.yml, which takes this
# folder's owner when first created): writable by app.
RUN SECRET_KEY=build-only-collectstatic-not-a-secret \
    ALLOWED_HOSTS=localhost SITE_URL=https://localhost \
    python manage.py collectstatic --no-input \
    && mkdir -p var/media \
    && chown -R app:app var

USER app
EXPOSE 8000

# --verbosity 0: no daphne access log, which would print link tokens.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--verbosity", "0", "chatsite.asgi:application"]
