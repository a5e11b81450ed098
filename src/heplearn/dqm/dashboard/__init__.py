"""The DQM shifter dashboard (``heplearn dqm serve``): runs, lumisections, maps, certification.

- :mod:`.settings`: what one dashboard serves and how it is guarded;
- :mod:`.security`: Host check, token, CSRF, response headers;
- :mod:`.queries`: the history's reads (one read-only connection per request);
- :mod:`.mapdata`: map files (validated, cached) and the run's expectation;
- :mod:`.api`: the JSON API; :mod:`.pages`: the HTML pages; :mod:`.app`: the app factory.

The front end is plain HTML and small scripts in ``static/`` with a vendored plotting
library (plotly.js, cartesian bundle, MIT licence beside it): no build step, no CDN.
"""

from heplearn.dqm.dashboard.app import create_app
from heplearn.dqm.dashboard.settings import Settings

__all__ = ["Settings", "create_app"]
