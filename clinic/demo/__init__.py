"""The demo hospital's clinic data: departments, staff, patients and their charts.

Run through ``manage.py seed_demo``; each ``seed_*`` function is one step of that command and
returns how many rows of each kind it created. Every step is idempotent: rows are found by their
natural key (department code, username, MRN) and only missing ones are created, validated with
``full_clean()``. A chart is generated only together with its patient, from a random generator
seeded with the patient's MRN, so the content is the same on every installation and a second run
adds nothing. Dates are relative to the day of seeding and always in the past.
"""

from .seed import seed_departments, seed_patients, seed_staff
from .staff import DEMO_PASSWORD, demo_logins

__all__ = ["DEMO_PASSWORD", "demo_logins", "seed_departments", "seed_patients", "seed_staff"]
