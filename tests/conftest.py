"""Suite-wide settings.

Under CI (`CI` set, as `.ci/run` runs) hypothesis derandomizes, so a submission's result does not
depend on which random examples a run happened to draw; locally it keeps exploring new ones.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
