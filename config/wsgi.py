import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# A viewer's frame requests after the first of a series skip Django's middleware and views
# (imaging/dicomweb/fast_frames.py says when and why that is safe).
from imaging.dicomweb.fast_frames import FramesFastPath  # noqa: E402

application = FramesFastPath(application)
