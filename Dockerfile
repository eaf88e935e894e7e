# One image for every Guildhall process (migrate, api, both workers), installed
# with the same pinned versions as the development venv.
FROM python:3.11-slim

# ENVIRONMENT=production: the image refuses to start without a real SECRET_KEY (shared/settings.py),
# and serves no /docs, /redoc or /openapi.json unless API_DOCS=true.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ENVIRONMENT=production

WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY shared ./shared
COPY services ./services
COPY guildhall ./guildhall
RUN pip install -c constraints.txt .

# `guildhall migrate` finds alembic.ini in the working directory.
COPY alembic.ini ./
COPY migrations ./migrations

RUN useradd --create-home --uid 10001 guildhall
USER guildhall

EXPOSE 8000
CMD ["guildhall", "api", "--host", "0.0.0.0", "--port", "8000"]
