"""The load run: simulated reps working their queues against gunicorn (see README.md)."""
