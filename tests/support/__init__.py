"""What the tests (and bench/) share: media makers (media.py), rows made
without the services (factories.py), the child processes they start and free
ports (processes.py), aurio under real gunicorn (server.py, with settings.py),
a tus client (tus.py), a fault-injecting proxy (faultproxy.py) and an S3
server (s3.py)."""
