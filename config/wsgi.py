import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Import the URL configuration, and with it every view, as the worker starts rather than in the
# first request it serves (~0.4 s: a viewer's first series would wait for it).
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018 - the import is the point

# A viewer's frame requests after the first of a series skip Django's middleware and views
# (imaging/dicomweb/fast_frames.py says when and why that is safe).
from imaging.dicomweb.fast_frames import FramesFastPath  # noqa: E402

application = FramesFastPath(application)
