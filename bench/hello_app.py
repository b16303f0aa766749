"""The framework floor for bench/load.py: a bare Flask app answering "hello", run under the same gunicorn config."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    """A constant response: what Flask + gunicorn cost with no work at all."""
    return "hello"
