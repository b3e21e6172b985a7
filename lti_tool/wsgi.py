"""Entry points for gunicorn (`lti_tool.wsgi:app`) and Celery (`celery -A lti_tool.wsgi:celery`)."""

from lti_tool import create_app

app = create_app()
celery = app.extensions["celery"]
