"""Settings for every test run from the project root, the doctests of ``salesnb`` included.

Nothing is skipped here: every docstring example runs on the bundled sample (found
through :func:`salesnb.sample_path`, so the working folder does not matter), with
matplotlib drawing off screen.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
